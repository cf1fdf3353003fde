/**
 * A clock that runs in real time but reads `offsetMs` away from this machine's (install it with `useClock` from
 * src/clock.ts): a machine whose clock is wrong, with sleeps and timers that still take their real time.
 */
import { type Clock, systemClock } from "../../src/clock.ts";

export function skewedClock(offsetMs: number): Clock {
  return { now: () => new Date(Date.now() + offsetMs), sleep: systemClock.sleep, setTimer: systemClock.setTimer };
}
