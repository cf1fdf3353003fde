/**
 * The CLI recording every module it resolves: at exit it writes them, as JSON `{ url, by }` entries (`by`: an ES
 * import or a require), to the file named by RECORD_MODULES_TO. Tests start it with startCli's `main`.
 */
import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

const target = process.env.RECORD_MODULES_TO;
if (target === undefined || target === "") throw new Error("RECORD_MODULES_TO must name the file to write the modules to");
const resolved: { url: string; by: "import" | "require" }[] = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    resolved.push({ url: result.url, by: context.conditions?.includes("require") === true ? "require" : "import" });
    return result;
  },
});
process.on("exit", () => writeFileSync(target, JSON.stringify(resolved)));

await import("../../src/cli/main.ts");
