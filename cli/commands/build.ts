/**
 * `edgefn build <dir>`: bundles every function under <dir> into `<out>/<name>/`:
 * `index.js`, `index.js.map`, and `deployment.json`, the exact body of
 * `PUT /v1/functions/<name>` (DeploymentSchema), so a later deploy uploads it as is.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { bundleFunction, deploymentOf } from "../bundle.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { CliError } from "../errors.ts";
import { createOutput, formatBytes, type Output } from "../output.ts";
import { discoverFunctions, displayPath, type FunctionProject } from "../project.ts";

const args = {
  dir: { type: "positional", default: ".", description: "A function's folder, or a folder of functions" },
  out: { type: "string", alias: "o", default: "dist", valueHint: "dir", description: "Where to write <name>/index.js" },
  json: { type: "boolean", description: "Print the result as JSON" },
} as const;

const ArgsSchema = z.object({ dir: z.string().min(1), out: z.string().min(1), json: z.boolean() });

export interface BuiltFunction {
  name: string;
  manifest: string;
  bundle: string;
  sourceMap: string;
  deployment: string;
  bytes: number;
  digest: string;
}

export default defineCommand({
  meta: {
    name: "build",
    description: "Bundle functions for deployment and print each bundle's size and digest.",
    examples: ["edgefn build ./fns/hello --out ./dist", "edgefn build ./fns --json"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const { functions, errors } = await discoverFunctions(a.dir);
    if (errors.length > 0) throw combine(errors.map((e) => e.error));

    const outDir = path.resolve(a.out);
    const built: BuiltFunction[] = [];
    const failures: CliError[] = [];
    for (const fn of functions) {
      try {
        built.push(await buildOne(fn, outDir, out));
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
        failures.push(err);
      }
    }
    out.data({ functions: built });
    if (failures.length > 0) throw combine(failures);
  },
});

async function buildOne(fn: FunctionProject, outDir: string, out: Output): Promise<BuiltFunction> {
  const bundle = await out.task(`Building ${fn.name}`, () => bundleFunction(fn.entry), () => `Built ${fn.name}`);
  for (const w of bundle.warnings) out.warn(w);
  const dir = path.join(outDir, fn.name);
  await mkdir(dir, { recursive: true });
  const files = {
    bundle: path.join(dir, "index.js"),
    sourceMap: path.join(dir, "index.js.map"),
    deployment: path.join(dir, "deployment.json"),
  };
  await writeFile(files.bundle, bundle.code);
  await writeFile(files.sourceMap, bundle.sourceMap);
  await writeFile(files.deployment, `${JSON.stringify(deploymentOf(fn, bundle), null, 2)}\n`);

  const bytes = Buffer.byteLength(bundle.code, "utf8");
  out.log(`  bundle  ${displayPath(files.bundle)}  ${formatBytes(bytes)}`);
  out.log(`  digest  ${bundle.digest}`);
  out.log(`  deploy  ${displayPath(files.deployment)}`);
  return { name: fn.name, manifest: fn.manifestPath, ...files, bytes, digest: bundle.digest };
}

function combine(errors: CliError[]): CliError {
  if (errors.length === 1) return errors[0]!;
  return new CliError(errors[0]!.code, `${errors.length} functions failed.`, {
    details: errors.map((e) => [e.message, e.details].filter(Boolean).join("\n")).join("\n\n"),
    hint: errors[0]!.hint,
  });
}
