/** Where a pull keeps its record in a destination folder: `<dest>/.opencrate/pulled.json`, and its journal beside it. */
import { existsSync } from "node:fs";
import { join } from "node:path";

export const RECORD_FOLDER = ".opencrate";
export const RECORD_NAME = "pulled.json";
export const JOURNAL_NAME = "pulled.journal";

/** Whether a pull has written into the local folder `path` (its record or journal is there). */
export function holdsPullRecord(path: string): boolean {
  return existsSync(join(path, RECORD_FOLDER, RECORD_NAME)) || existsSync(join(path, RECORD_FOLDER, JOURNAL_NAME));
}
