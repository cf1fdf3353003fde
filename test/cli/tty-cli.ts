/**
 * The CLI with stdout claiming to be a terminal (`process.stdout.isTTY`), so tests see what a command does on one
 * while still reading its output from a pipe. Tests start it with startCli's `main`.
 */
Object.defineProperty(process.stdout, "isTTY", { value: true });
await import("../../src/cli/main.ts");
