/** `edgefn init <dir>`: a new function from a template in functions/, named after its dir. */
import { existsSync } from "node:fs";
import { cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import { z } from "zod";
import { API_VERSION, FunctionNameSchema, KIND } from "../../runtime/manifest.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { CliError } from "../errors.ts";
import { createOutput, edgefnCommand } from "../output.ts";
import { displayPath, MANIFEST_FILE } from "../project.ts";

const FUNCTIONS_DIR = fileURLToPath(new URL("../../functions/", import.meta.url));

/** Template name -> folder under functions/. A path (`./my-template`) is used as is. */
export const TEMPLATES: Record<string, string> = {
  hello: "hello",
  api: "api",
  json: "json-echo",
  fetch: "egress-fetch",
  stream: "stream",
};

/** Used when functions/tsconfig.json is absent; same intent: Web APIs only, no Node types. */
const FALLBACK_TSCONFIG = {
  compilerOptions: {
    target: "es2023",
    lib: ["es2023", "webworker", "webworker.iterable", "webworker.asynciterable"],
    types: [],
    module: "preserve",
    moduleResolution: "bundler",
    strict: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    noEmit: true,
  },
  include: ["**/*.ts"],
};

const args = {
  dir: { type: "positional", required: true, description: "Directory to create; its name becomes the function name" },
  template: {
    type: "string",
    alias: "t",
    default: "hello",
    valueHint: "name|path",
    description: `Template: ${Object.keys(TEMPLATES).join(", ")}, or a path to a function folder`,
  },
  name: { type: "string", description: "Function name (metadata.name) instead of the directory's name" },
  force: { type: "boolean", description: "Write into a directory that is not empty, overwriting files" },
  json: { type: "boolean", description: "Print the result as JSON" },
} as const;

const ArgsSchema = z.object({
  dir: z.string().min(1),
  template: z.string().min(1),
  name: z.string().optional(),
  force: z.boolean(),
  json: z.boolean(),
});

export default defineCommand({
  meta: {
    name: "init",
    description: "Create a new function (index.ts, edgefn.yaml, tsconfig.json) from a template.",
    examples: ["edgefn init ./fns/hello", "edgefn init ./fns/items --template api"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const target = path.resolve(a.dir);
    const name = checkName(a.name ?? path.basename(target), a.name !== undefined);
    const templateDir = resolveTemplate(a.template);

    if (existsSync(target) && (await readdir(target)).length > 0 && !a.force) {
      throw new CliError("ERR_DIR_NOT_EMPTY", `${displayPath(target)} already exists and is not empty.`, {
        hint: "Choose a new directory, or pass --force to write the template's files into it.",
      });
    }
    const files = await scaffoldFunction(target, name, templateDir);
    const template = path.basename(templateDir);
    out.data({ name, dir: target, template, files });
    out.success(`Created function ${name} in ${displayPath(target)} from the ${template} template`);
    for (const f of files) out.log(`  ${displayPath(f)}`);
    const parent = displayPath(path.dirname(target));
    const bin = edgefnCommand();
    out.log();
    out.log("Next steps:");
    out.log(`  ${bin} dev ${parent} --port 8787      # serve every function under ${parent}, reload on save`);
    out.log(`  curl http://127.0.0.1:8787/${name}/`);
  },
});

/** Writes a function named `name` into `target` from a template folder; returns the files written. */
export async function scaffoldFunction(target: string, name: string, templateDir = resolveTemplate("hello")): Promise<string[]> {
  await mkdir(target, { recursive: true });
  await cp(templateDir, target, {
    recursive: true,
    force: true,
    filter: (src) => {
      const base = path.basename(src);
      return src === templateDir || (base !== "node_modules" && !base.startsWith(".") && base !== "tsconfig.json");
    },
  });
  await writeManifest(path.join(target, MANIFEST_FILE), name);
  await writeFile(path.join(target, "tsconfig.json"), await tsconfigText());
  return (await readdir(target, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** DNS-1123 label, since the name is also the VAN service name and a Kubernetes name. */
function checkName(name: string, fromFlag: boolean): string {
  const result = FunctionNameSchema.safeParse(name);
  if (result.success) return result.data;
  const suggestion = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
  const source = fromFlag ? "--name" : "the directory's name";
  throw new CliError(
    "ERR_INVALID_NAME",
    `"${name}" (${source}) is not a valid function name: it ${result.error.issues[0]!.message}.`,
    {
      hint:
        suggestion !== "" && FunctionNameSchema.safeParse(suggestion).success
          ? `Function names become URL paths and service names. Use e.g. --name ${suggestion}, or rename the directory.`
          : "Function names become URL paths and service names. Pass --name with lower-case letters, digits and '-'.",
    },
  );
}

function resolveTemplate(template: string): string {
  const isPath = template.includes("/") || template.includes(path.sep) || template.startsWith(".");
  const dir = isPath ? path.resolve(template) : path.join(FUNCTIONS_DIR, TEMPLATES[template] ?? template);
  if (existsSync(path.join(dir, MANIFEST_FILE)) || (isPath && existsSync(dir))) return dir;
  const known = Object.entries(TEMPLATES)
    .filter(([, folder]) => existsSync(path.join(FUNCTIONS_DIR, folder)))
    .map(([t]) => t);
  throw new CliError("ERR_TEMPLATE_NOT_FOUND", `There is no template "${template}".`, {
    hint: known.length > 0 ? `Templates: ${known.join(", ")}; or pass a path to a function folder.` : "Pass a path to a function folder as --template.",
  });
}

/** Sets metadata.name in the template's manifest, keeping its comments; writes one if absent. */
async function writeManifest(file: string, name: string): Promise<void> {
  const text = existsSync(file)
    ? await readFile(file, "utf8")
    : `apiVersion: ${API_VERSION}\nkind: ${KIND}\nmetadata:\n  name: ${name}\nspec:\n  source: ./index.ts\n`;
  const doc = parseDocument(text);
  doc.setIn(["metadata", "name"], name);
  await writeFile(file, doc.toString());
}

async function tsconfigText(): Promise<string> {
  const shared = path.join(FUNCTIONS_DIR, "tsconfig.json");
  if (existsSync(shared)) return readFile(shared, "utf8");
  return `${JSON.stringify(FALLBACK_TSCONFIG, null, 2)}\n`;
}
