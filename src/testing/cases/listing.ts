/** Recursive listings (key order, plain string prefixes, startAfter) and one-level pages with pagination. */
import assert from "node:assert/strict";
import type { ListPage, StorageBackend } from "../../backends/backend.ts";
import type { ConformanceFixture } from "../fixture.ts";
import { collect, keyOrder, listKeys, rejectsWithCode } from "../helpers.ts";

/** No key is also a prefix of another key's folder, which a file system cannot hold. */
const KEYS = [
  "a-1.txt",
  "a/b.txt",
  "a/b/c.txt",
  "a/b/e/f.txt",
  "a/bc/d.txt",
  "b.txt",
  "v0:initial-run/x.json",
  "v0/x.json",
  "z",
];

async function seed(backend: StorageBackend, keys: readonly string[] = KEYS): Promise<void> {
  // Written out of order on purpose: listings must sort.
  for (const key of [...keys].reverse()) await backend.put(key, `body of ${key}`);
}

/** Follows nextPageToken to the end, checking each page's bound. */
async function allPages(backend: StorageBackend, prefix: string, pageSize: number): Promise<ListPage[]> {
  const pages: ListPage[] = [];
  let pageToken: string | undefined;
  do {
    const page = await backend.listPage(prefix, pageToken === undefined ? { pageSize } : { pageSize, pageToken });
    assert.ok(page.objects.length + page.prefixes.length <= pageSize, `a page holds at most ${pageSize} entries`);
    pages.push(page);
    pageToken = page.nextPageToken;
    assert.ok(pages.length < 100, "pagination ends");
  } while (pageToken !== undefined);
  return pages;
}

export function listingCases(fixture: ConformanceFixture): void {
  fixture.it("lists everything recursively in key order", async (backend) => {
    await seed(backend);
    assert.deepEqual(await listKeys(backend, ""), keyOrder(KEYS));
  });

  fixture.it("treats the list prefix as a plain string prefix", async (backend) => {
    await seed(backend);
    assert.deepEqual(await listKeys(backend, "a/b"), ["a/b.txt", "a/b/c.txt", "a/b/e/f.txt", "a/bc/d.txt"]);
    assert.deepEqual(await listKeys(backend, "a/b/"), ["a/b/c.txt", "a/b/e/f.txt"]);
    assert.deepEqual(await listKeys(backend, "a"), ["a-1.txt", "a/b.txt", "a/b/c.txt", "a/b/e/f.txt", "a/bc/d.txt"]);
    assert.deepEqual(await listKeys(backend, "v0"), ["v0/x.json", "v0:initial-run/x.json"]);
    assert.deepEqual(await listKeys(backend, "v0:"), ["v0:initial-run/x.json"]);
    assert.deepEqual(await listKeys(backend, "a/b/c.txt"), ["a/b/c.txt"]);
    assert.deepEqual(await listKeys(backend, "a/nothing"), []);
    assert.deepEqual(await listKeys(backend, "missing/"), []);
  });

  fixture.it("starts after a given key, existing or not", async (backend) => {
    await seed(backend);
    const sorted = keyOrder(KEYS);
    assert.deepEqual(await listKeys(backend, "", "a/b/c.txt"), sorted.slice(sorted.indexOf("a/b/c.txt") + 1));
    assert.deepEqual(await listKeys(backend, "", "a/b/d"), sorted.filter((key) => key > "a/b/d"));
    assert.deepEqual(await listKeys(backend, "a/", "a/b/e/f.txt"), ["a/bc/d.txt"]);
    assert.deepEqual(await listKeys(backend, "", "zz"), []);
  });

  fixture.it("lists sizes and revisions that match head", async (backend) => {
    await seed(backend);
    await backend.put("a/b.txt", "a longer body than before");
    for (const info of await collect(backend.list(""))) {
      const head = await backend.head(info.key);
      assert.equal(info.size, head.size, `${info.key}: size`);
      assert.equal(info.revision, head.revision, `${info.key}: revision`);
    }
  });

  fixture.it("pages one level: objects here, sub-folders as prefixes ending in '/'", async (backend) => {
    await seed(backend);
    const root = await backend.listPage("");
    assert.deepEqual(root.objects.map((info) => info.key), ["a-1.txt", "b.txt", "z"]);
    assert.deepEqual(root.prefixes, ["a/", "v0/", "v0:initial-run/"]);
    assert.equal(root.nextPageToken, undefined);
    assert.equal(root.objects.find((info) => info.key === "b.txt")?.size, "body of b.txt".length);

    const a = await backend.listPage("a/");
    assert.deepEqual(a.objects.map((info) => info.key), ["a/b.txt"]);
    assert.deepEqual(a.prefixes, ["a/b/", "a/bc/"]);

    const ab = await backend.listPage("a/b/");
    assert.deepEqual(ab.objects.map((info) => info.key), ["a/b/c.txt"]);
    assert.deepEqual(ab.prefixes, ["a/b/e/"]);

    assert.deepEqual(await backend.listPage("missing/"), { objects: [], prefixes: [] });
  });

  fixture.it("paginates pages of 2 across several pages, losing and repeating nothing", async (backend) => {
    const keys = [...KEYS, ...Array.from({ length: 7 }, (_, index) => `many/item-${index}.txt`)];
    await seed(backend, keys);
    const full = await backend.listPage("");
    const pages = await allPages(backend, "", 2);
    assert.ok(pages.length >= 3, `several pages (got ${pages.length})`);
    assert.deepEqual(pages.flatMap((page) => page.objects.map((info) => info.key)), full.objects.map((info) => info.key));
    assert.deepEqual(pages.flatMap((page) => page.prefixes), full.prefixes);

    const many = await allPages(backend, "many/", 2);
    assert.equal(many.length, 4);
    assert.deepEqual(
      many.flatMap((page) => page.objects.map((info) => info.key)),
      Array.from({ length: 7 }, (_, index) => `many/item-${index}.txt`),
    );
  });

  fixture.it("forgets a prefix once its last object is deleted", async (backend) => {
    await backend.put("runs/v0/deep/inside/a.txt", "a");
    await backend.put("runs/v1/b.txt", "b");
    assert.deepEqual((await backend.listPage("runs/")).prefixes, ["runs/v0/", "runs/v1/"]);
    await backend.delete("runs/v0/deep/inside/a.txt");
    assert.deepEqual((await backend.listPage("runs/")).prefixes, ["runs/v1/"]);
    assert.deepEqual((await backend.listPage("runs/v0/")).prefixes, []);
    await backend.delete("runs/v1/b.txt");
    assert.deepEqual(await backend.listPage(""), { objects: [], prefixes: [] });
    assert.deepEqual(await listKeys(backend, ""), []);
  });

  fixture.it("rejects invalid prefixes as INVALID_ARGUMENT", async (backend) => {
    for (const prefix of ["../", "/abs/", "a//", "a/./"]) {
      await rejectsWithCode(collect(backend.list(prefix)), "INVALID_ARGUMENT", `list ${JSON.stringify(prefix)}`);
      await rejectsWithCode(backend.listPage(prefix), "INVALID_ARGUMENT", `listPage ${JSON.stringify(prefix)}`);
    }
  });
}
