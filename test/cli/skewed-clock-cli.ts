/**
 * The CLI on a machine whose clock reads CLOCK_OFFSET_MS away from the real time (what S3 requests are signed
 * with). Tests start it with startCli's `main`.
 */
import { useClock } from "../../src/clock.ts";
import { skewedClock } from "../support/skewed-clock.ts";

useClock(skewedClock(Number(process.env.CLOCK_OFFSET_MS ?? "0")));
await import("../../src/cli/main.ts");
