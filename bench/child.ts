/** Runs one variant of one scenario and prints a VariantResult as JSON. argv: <scenario> <variant> <json args> */
import { scenarios } from "./scenarios/index.ts";

const [scenarioName = "", variant = "", argsJson = "{}"] = process.argv.slice(2);
const scenario = scenarios.find((candidate) => candidate.name === scenarioName);
if (scenario === undefined) throw new Error(`unknown scenario ${scenarioName}`);
const result = await scenario.runVariant(variant, JSON.parse(argsJson) as Record<string, string>);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
