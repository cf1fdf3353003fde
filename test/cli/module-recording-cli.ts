/**
 * The CLI recording every module it resolves: at exit it writes them, as JSON `{ url, by, from }` entries (`by`: an
 * ES import or a require; `from`: the importing module), to the file named by RECORD_MODULES_TO. loaded-modules.ts
 * runs it.
 */
import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

const target = process.env.RECORD_MODULES_TO;
if (target === undefined || target === "") throw new Error("RECORD_MODULES_TO must name the file to write the modules to");
const resolved: { url: string; by: "import" | "require"; from: string | undefined }[] = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    const by = context.conditions?.includes("require") === true ? "require" : "import";
    resolved.push({ url: result.url, by, from: context.parentURL });
    return result;
  },
});
process.on("exit", () => writeFileSync(target, JSON.stringify(resolved)));

await import("../../src/cli/main.ts");
