/** Runs one variant of one scenario and prints a VariantResult as JSON. argv: <scenario> <variant> <json args> */
import { spawnSync } from "node:child_process";
import { scenarios } from "./scenarios/index.ts";

const [scenarioName = "", variant = "", argsJson = "{}"] = process.argv.slice(2);
const scenario = scenarios.find((candidate) => candidate.name === scenarioName);
if (scenario === undefined) throw new Error(`unknown scenario ${scenarioName}`);
// Dirty pages left by the previous run (a gigabyte written) would otherwise be flushed during this one.
spawnSync("sync");
const result = await scenario.runVariant(variant, JSON.parse(argsJson) as Record<string, string>);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
