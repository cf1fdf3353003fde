/**
 * Builds the test servers' container images from docker/*.Dockerfile around the binaries in .cache/bin (run
 * scripts/build-servers.sh first), with no registry: every Dockerfile starts FROM scratch.
 *
 *   node scripts/build-images.ts [minio] [gcs] [toxiproxy]     (no argument: all three)
 *
 * An image whose inputs (Dockerfile text, the bytes of every file it copies) hash to the value its label holds is
 * not rebuilt, so a second run costs a few seconds of hashing. Each local build is also tagged with its official
 * name (see servers/images.ts) unless a pulled image already holds that name.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, createReadStream, existsSync, openSync } from "node:fs";
import { copyFile, link, mkdir, readFile, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { IMAGES, INPUTS_LABEL, type ImageId, type ImageSpec } from "./servers/images.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const say = (line: string): void => {
  process.stderr.write(`build-images: ${line}\n`);
};

function docker(args: readonly string[]): { ok: boolean; out: string } {
  const result = spawnSync("docker", args, { encoding: "utf8", timeout: 60_000 });
  return { ok: result.status === 0, out: (result.stdout ?? "").trim() };
}

/** A statically linked busybox (Debian: busybox-static), for the health checks of docker/compose.yaml. */
function staticBusybox(): string {
  for (const candidate of [process.env.OPENCRATE_BUSYBOX, "/bin/busybox", "/usr/bin/busybox"]) {
    if (candidate === undefined || candidate === "" || !existsSync(candidate)) continue;
    // ldd fails on a static binary ("not a dynamic executable"); a dynamic busybox would not run FROM scratch.
    if (spawnSync("ldd", [candidate], { encoding: "utf8" }).status !== 0) return candidate;
  }
  throw new Error("no static busybox found (Debian: apt-get install busybox-static, or set OPENCRATE_BUSYBOX)");
}

async function fileHash(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function inputsHash(spec: ImageSpec, files: Readonly<Record<string, string>>): Promise<string> {
  const hash = createHash("sha256");
  hash.update(await readFile(join(root, spec.dockerfile)));
  for (const name of Object.keys(files).sort()) hash.update(`\0${name}\0${await fileHash(files[name] ?? "")}`);
  return hash.digest("hex").slice(0, 32);
}

const labelOf = (image: string): string | undefined => {
  const inspected = docker(["image", "inspect", "--format", `{{index .Config.Labels "${INPUTS_LABEL}"}}`, image]);
  return inspected.ok ? inspected.out.replace("<no value>", "") : undefined;
};

async function stageContext(spec: ImageSpec, files: Readonly<Record<string, string>>): Promise<string> {
  const dir = join(root, ".cache", "image-context", spec.id);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const [name, source] of Object.entries(files)) {
    // A hard link costs nothing for the 150 MB MinIO binary; across file systems, a copy.
    await link(source, join(dir, name)).catch(() => copyFile(source, join(dir, name)));
  }
  return dir;
}

async function runBuild(spec: ImageSpec, contextDir: string, inputs: string, logFile: string): Promise<void> {
  const args = ["build", "--force-rm", "--network", "none", "-f", join(root, spec.dockerfile), "-t", spec.local];
  args.push("--label", `${INPUTS_LABEL}=${inputs}`, contextDir);
  const out = openSync(logFile, "w");
  try {
    // The Dockerfiles need no BuildKit feature; the classic builder runs on every engine without a buildx plugin.
    const child = spawn("docker", args, { stdio: ["ignore", out, out], env: { ...process.env, DOCKER_BUILDKIT: "0" } });
    const code = await new Promise<number | null>((resolve) => {
      child.once("error", () => resolve(null));
      child.once("exit", (exitCode) => resolve(exitCode));
    });
    if (code !== 0) {
      const tail = (await readFile(logFile, "utf8")).trimEnd().split("\n").slice(-20).join("\n");
      throw new Error(`docker build of ${spec.local} failed:\n${tail}\n(full log: ${relative(root, logFile)})`);
    }
  } finally {
    closeSync(out);
  }
}

function tagOfficial(spec: ImageSpec): void {
  const existing = labelOf(spec.official);
  if (existing === "") {
    say(`${spec.official} is a pulled image here: left as it is (the local build stays ${spec.local})`);
    return;
  }
  if (!docker(["tag", spec.local, spec.official]).ok) throw new Error(`docker tag ${spec.local} ${spec.official} failed`);
}

export async function buildImage(id: ImageId): Promise<void> {
  const spec = IMAGES[id];
  const began = Date.now();
  const needsBusybox = Object.keys(spec.context(root, "")).includes("busybox");
  const files = spec.context(root, needsBusybox ? staticBusybox() : "");
  for (const [name, path] of Object.entries(files)) {
    if (!existsSync(path)) throw new Error(`${spec.id}: ${relative(root, path)} (${name}) is missing: run bash scripts/build-servers.sh`);
  }
  const inputs = await inputsHash(spec, files);
  if (labelOf(spec.local) === inputs) {
    tagOfficial(spec);
    say(`${spec.local}: up to date`);
    return;
  }
  say(`${spec.local}: building from ${spec.dockerfile}`);
  await mkdir(join(root, ".cache", "logs"), { recursive: true });
  const contextDir = await stageContext(spec, files);
  try {
    await runBuild(spec, contextDir, inputs, join(root, ".cache", "logs", `build-image-${spec.id}.log`));
  } finally {
    await rm(contextDir, { recursive: true, force: true });
  }
  tagOfficial(spec);
  say(`${spec.local}: built in ${((Date.now() - began) / 1000).toFixed(1)}s (also tagged ${spec.official})`);
}

export async function buildImages(ids: readonly ImageId[] = Object.keys(IMAGES) as ImageId[]): Promise<void> {
  for (const id of ids) await buildImage(id);
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const ids = process.argv.slice(2);
  const unknown = ids.filter((id) => !(id in IMAGES));
  if (unknown.length > 0) {
    say(`unknown image ${unknown.join(", ")} (known: ${Object.keys(IMAGES).join(", ")})`);
    process.exit(2);
  }
  await buildImages(ids.length > 0 ? (ids as ImageId[]) : undefined).catch((error: unknown) => {
    say(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
