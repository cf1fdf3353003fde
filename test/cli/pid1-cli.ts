/**
 * The CLI as it runs as PID 1 of a container (`docker run` without --init, a pod without a shared process
 * namespace): there, a signal the process has no handler for does nothing at all, where elsewhere it ends the
 * process. Listeners that do nothing give the same: only the CLI's own handling of SIGINT and SIGTERM can end it.
 * Runs PID1_MAIN (another fixture, e.g. stalling-cli.ts) or the CLI itself. Tests start it with startCli's `main`.
 */
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {});
await import(process.env.PID1_MAIN ?? "../../src/cli/main.ts");
