/**
 * The tools users pick instead of opencrate, installed by the bench itself at pinned versions into .cache:
 * rclone built with `go install`, boto3 from PyPI in its own venv. Each is run as a separate process whose wall time
 * and peak RSS are measured by a small wrapper (Python's getrusage of the child), the same way for every variant.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { VariantResult } from "../harness.ts";

const run = promisify(execFile);
const cache = fileURLToPath(new URL("../../.cache/", import.meta.url));

export const RCLONE_VERSION = "v1.76.0";
export const BOTO3_VERSION = "1.44.5";
const rcloneDir = join(cache, "rclone", RCLONE_VERSION);
const boto3Venv = join(cache, `bench-boto3-${BOTO3_VERSION}`);

export const rclonePath = join(rcloneDir, "rclone");
export const pythonPath = join(boto3Venv, "bin", "python");
/**
 * ours.ts compiled to JavaScript, as a user's program runs once built: Node's own type stripping costs each start
 * about 30 ms (it loads a WebAssembly parser first), which no other tool in the table pays. It sits two folders
 * below the repository like ours.ts, so its relative paths to dist/ hold.
 */
export const oursScript = join(cache, "bench", "ours.mjs");

/** Builds rclone and the boto3 venv unless they are in .cache already. */
export async function ensureAnchors(): Promise<void> {
  if (!existsSync(rclonePath)) {
    const gopath = join(cache, "gopath");
    await run("go", ["install", `github.com/rclone/rclone@${RCLONE_VERSION}`], {
      env: { ...process.env, GOBIN: rcloneDir, GOPATH: gopath, GOMODCACHE: join(gopath, "pkg", "mod"), GOCACHE: join(cache, "go-build") },
      timeout: 60 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  }
  if (!existsSync(pythonPath)) {
    await run("python3", ["-m", "venv", boto3Venv], { timeout: 10 * 60_000 });
    await run(join(boto3Venv, "bin", "pip"), ["install", "--quiet", `boto3==${BOTO3_VERSION}`], { timeout: 20 * 60_000 });
  }
  const { transform } = await import("esbuild");
  const source = await readFile(new URL("./ours.ts", import.meta.url), "utf8");
  const { code } = await transform(source, { loader: "ts", format: "esm", target: "node22" });
  await mkdir(join(cache, "bench"), { recursive: true });
  await writeFile(oursScript, code);
}

/** Runs `command` in a child and reports its wall time and peak RSS (getrusage of the child, so exact). */
export async function measureProcess(command: readonly string[], env: NodeJS.ProcessEnv, bytes: number): Promise<VariantResult> {
  const wrapper = [
    "import json, resource, subprocess, sys, time",
    "start = time.perf_counter()",
    "done = subprocess.run(sys.argv[1:])",
    "seconds = time.perf_counter() - start",
    "if done.returncode != 0: sys.exit(done.returncode)",
    "print(json.dumps({'seconds': seconds, 'maxrss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))",
  ].join("\n");
  const { stdout } = await run("python3", ["-c", wrapper, ...command], { env, timeout: 30 * 60_000, maxBuffer: 16 * 1024 * 1024 });
  const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as { seconds: number; maxrss: number };
  return { seconds: result.seconds, bytes, peakRssBytes: result.maxrss * 1024 };
}

/** rclone's environment for a remote named `remote` on an S3 endpoint (no config file needed). */
export function rcloneS3Env(remote: string, server: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string }): NodeJS.ProcessEnv {
  const prefix = `RCLONE_CONFIG_${remote.toUpperCase()}_`;
  return {
    ...process.env,
    RCLONE_CONFIG: "/dev/null",
    [`${prefix}TYPE`]: "s3",
    [`${prefix}PROVIDER`]: "Minio",
    [`${prefix}ENDPOINT`]: server.endpoint,
    [`${prefix}ACCESS_KEY_ID`]: server.accessKeyId,
    [`${prefix}SECRET_ACCESS_KEY`]: server.secretAccessKey,
    [`${prefix}REGION`]: server.region,
  };
}

/**
 * rclone's environment for a remote named `remote` on a GCS emulator: the gcs backend with its JSON API endpoint
 * moved to the emulator and anonymous access (fake-gcs-server asks for no credentials).
 */
export function rcloneGcsEnv(remote: string, server: { endpoint: string }): NodeJS.ProcessEnv {
  const prefix = `RCLONE_CONFIG_${remote.toUpperCase()}_`;
  return {
    ...process.env,
    RCLONE_CONFIG: "/dev/null",
    [`${prefix}TYPE`]: "google cloud storage",
    [`${prefix}ENDPOINT`]: `${server.endpoint}/storage/v1/`,
    [`${prefix}ANONYMOUS`]: "true",
  };
}

/** opencrate's environment for gs:// URIs on a GCS emulator. */
export function gcsEmulatorEnv(server: { endpoint: string; projectId: string }): NodeJS.ProcessEnv {
  return { ...process.env, STORAGE_EMULATOR_HOST: server.endpoint, GOOGLE_CLOUD_PROJECT: server.projectId };
}

/** The boto3 script: `download <bucket> <key> <file>` or `upload <file> <bucket> <key>`, defaults of the library. */
export const BOTO3_SCRIPT = [
  "import sys, boto3",
  "s3 = boto3.client('s3')",
  "op = sys.argv[1]",
  "if op == 'download': s3.download_file(sys.argv[2], sys.argv[3], sys.argv[4])",
  "else: s3.upload_file(sys.argv[2], sys.argv[3], sys.argv[4])",
].join("\n");

export function boto3Env(server: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string }): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_REGION: server.region,
  };
}

/** Drops the page cache's dirty pages before a run, as bench/child.ts does for in-process variants. */
export function sync(): void {
  spawnSync("sync");
}

/** Where Linux says which block order of freed memory is reported to the host (none above the largest, 10). */
const REPORTING_ORDER = "/sys/module/page_reporting/parameters/page_reporting_order";
const BALLOON_DEVICES = "/sys/bus/virtio/drivers/virtio_balloon";
/** VIRTIO_BALLOON_F_REPORTING: the device takes reports of freed pages. */
const REPORTING_FEATURE_BIT = 5;
const LARGEST_PAGE_ORDER = 10;

/**
 * A sentence for the tables' notes when the machine is a VM that hands the memory it frees back to its host
 * (virtio-balloon free page reporting): a run that writes 1 GiB into page-cache pages the host took back pays
 * seconds of kernel time to fault them in again, whichever the tool, so whether reporting was on matters to every
 * 1 GiB row on loopback. Empty elsewhere.
 */
export function freePageReportingNote(): string {
  const balloons = existsSync(BALLOON_DEVICES) ? readdirSync(BALLOON_DEVICES).filter((name) => name.startsWith("virtio")) : [];
  const reporting = balloons.some((device) => {
    const features = readFileSync(join(BALLOON_DEVICES, device, "features"), "utf8");
    return features[REPORTING_FEATURE_BIT] === "1";
  });
  if (!reporting || !existsSync(REPORTING_ORDER)) return "";
  const order = Number(readFileSync(REPORTING_ORDER, "utf8").trim());
  if (order > LARGEST_PAGE_ORDER) {
    return ` This VM can report freed memory to its host (virtio-balloon free page reporting); reporting was off for this run (page_reporting_order ${order}).`;
  }
  return (
    ` This VM reports freed memory to its host (virtio-balloon free page reporting, page_reporting_order ${order}): a run that writes 1 GiB ` +
    "into pages the host took back pays seconds of kernel time to fault them in again, whichever the tool, so 1 GiB runs on loopback are fast or several times slower by chance."
  );
}

