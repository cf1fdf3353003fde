/**
 * One run for the exit-flush scenario: sets up a snapshot on MinIO under <prefix> (flush interval an hour), logs
 * <lines> lines, lets them reach the log-writer thread, then calls process.exit(0). An `exit` listener added after
 * opencrate's runs once opencrate's exit flush has returned and prints "exit-flush-ms <elapsed>".
 */
import { S3Backend } from "../src/backends/s3/index.ts";
import { Snapshot } from "../src/index.ts";
import { s3Options } from "../test/support/s3.ts";
import { minioEnv } from "../test/support/servers.ts";

const [prefix = "", count = "10000"] = process.argv.slice(2);
const server = minioEnv();
if (server === undefined) throw new Error("TEST_MINIO_ENDPOINT is not set");
const backend = new S3Backend(s3Options(server, { prefix }));
const snapshot = await Snapshot.setup({ name: "bench", backend, console: false, logFlushIntervalMs: 3_600_000 });
for (let i = 0; i < Number(count); i++) snapshot.info(`step ${i} loss 0.125 accuracy 0.875`);
await new Promise((resolve) => setImmediate(resolve));
const started = process.hrtime.bigint();
process.on("exit", () => {
  process.stdout.write(`exit-flush-ms ${Number(process.hrtime.bigint() - started) / 1e6}\n`);
});
process.exit(0);
