/**
 * The log-writer thread: rebuilds the run's backend, runs its RunWriter, and answers the main thread. Because it
 * has its own event loop, it keeps storing lines while the main thread is blocked (in an `exit` listener waiting
 * for the final flush, or in a long synchronous computation).
 */
import { parentPort, workerData } from "node:worker_threads";
import { backendFromRecipe } from "./backend-recipe.ts";
import { RunWriter } from "./run-writer.ts";
import type { FromWorker, SinkWorkerData, ToWorker } from "./sink-protocol.ts";
import { sendError } from "./sink-protocol.ts";

const port = parentPort;
if (port === null) throw new Error("sink-worker.ts runs only as a worker thread");
const data = workerData as SinkWorkerData;
const closed = new Int32Array(data.closed);
const backend = backendFromRecipe(data.recipe);
const writer = new RunWriter(backend, data.options);
const send = (message: FromWorker): void => port.postMessage(message);

port.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "lines":
      writer.write(message.text);
      return;
    case "flush":
      void answer(message.id, writer.flush());
      return;
    case "close":
      void answer(message.id, writer.close(message.ending)).finally(() => {
        Atomics.store(closed, 0, 1);
        Atomics.notify(closed, 0);
      });
      return;
  }
});

async function answer(id: number, work: Promise<void>): Promise<void> {
  try {
    await work;
    send({ type: "done", id });
  } catch (error) {
    send({ type: "done", id, error: sendError(error) });
  }
}

try {
  await writer.start();
  send({ type: "started", path: writer.path });
} catch (error) {
  send({ type: "start-failed", error: sendError(error) });
}
