/**
 * The CLI on a machine whose clock reads CLOCK_OFFSET_MS away from the real time (what S3 requests are signed
 * with). Tests start it with startCli's `main`.
 */
import { useMachineTime } from "../../src/clock.ts";

const offsetMs = Number(process.env.CLOCK_OFFSET_MS ?? "0");
useMachineTime(() => Date.now() + offsetMs);
await import("../../src/cli/main.ts");
