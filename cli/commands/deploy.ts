/**
 * `edgefn deploy <dir>...`: for each function under the folders given, build its bundle,
 * upload it to the site, where it is verified and then made live, and print its URL. One
 * function failing (its manifest, its build, or the site refusing it) is reported with its
 * reason and fix, and the others still deploy; the exit code is 1 if any failed.
 */
import path from "node:path";
import { z } from "zod";
import type { FunctionInfo } from "../../runtime/manifest.ts";
import { bundleFunction, deploymentOf } from "../bundle.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { CliError, isCodedError, type CodedError } from "../errors.ts";
import { createOutput, errorJSON, formatBytes, type Output } from "../output.ts";
import { discoverFunctions, displayPath, duplicateError, type FunctionProject } from "../project.ts";
import { createSiteClient, type SiteClient } from "../site-client.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";

const args = {
  dirs: { type: "positional", multiple: true, description: "Function folders, or folders of functions (default: .)" },
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print the results as JSON" },
} as const;

const ArgsSchema = z.object({
  dirs: z.array(z.string().min(1)).transform((d) => (d.length === 0 ? ["."] : d)),
  site: z.string().optional(),
  token: z.string().optional(),
  json: z.boolean(),
});

/** One entry of `--json` output per function (or per folder whose functions could not be read). */
export type DeployResult =
  | { name: string; ok: true; function: FunctionInfo }
  | { name: string; ok: false; error: Record<string, unknown> };

export default defineCommand({
  meta: {
    name: "deploy",
    description: "Build functions and deploy them to a site; each goes live once the site has verified it.",
    examples: [
      "edgefn deploy ./fns/hello ./fns/api",
      "edgefn deploy ./fns --site http://127.0.0.1:9081 --token $(cat ./site-a/control.token)",
    ],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const client = createSiteClient(resolveTarget(a));

    const results: DeployResult[] = [];
    const fail = (name: string, err: unknown) => {
      if (!isCodedError(err)) throw err;
      // With --json the failure is in the results; stdout carries one JSON value per line.
      if (!out.json) out.error(prefixed(name, err));
      results.push({ name, ok: false, error: errorJSON(err) });
    };
    const functions = await discoverAll(a.dirs, fail);

    // Token, address and site checked once, before any build.
    const site = await client.site();
    if (functions.length > 0) {
      const count = functions.length === 1 ? "1 function" : `${functions.length} functions`;
      out.step(`Deploying ${count} to site ${site.name} (${client.target.url})`);
    }
    const width = Math.max(0, ...functions.map((f) => f.name.length));
    for (const fn of functions) {
      try {
        results.push({ name: fn.name, ok: true, function: await deployOne(fn, client, out, width) });
      } catch (err) {
        fail(fn.name, err);
      }
    }

    out.data(results);
    const live = results.filter((r) => r.ok);
    if (live.length > 0) {
      out.log();
      out.log(`Live on site ${site.name}:`);
      for (const r of live) out.log(`  ${r.name.padEnd(width)}  v${r.function.version}  ${r.function.url}`);
    }
    const failed = results.filter((r) => !r.ok).map((r) => r.name);
    if (failed.length === 0) return;
    const of = `${failed.length} of ${results.length} function${results.length === 1 ? "" : "s"}`;
    const fix = failed.length === 1 ? "Its error is above: fix it and deploy it again." : "Their errors are above: fix them and deploy those again.";
    throw new CliError("ERR_DEPLOY_FAILED", `${of} failed to deploy: ${failed.join(", ")}.`, {
      hint: `${fix} ${live.length > 0 ? "The others are live; a" : "A"} function that failed keeps serving its previous version, if it had one.`,
    });
  },
});

/** Every function under `dirs`, each once; a folder or manifest that cannot be read is a failure. */
async function discoverAll(dirs: string[], fail: (name: string, err: unknown) => void): Promise<FunctionProject[]> {
  const byName = new Map<string, FunctionProject>();
  for (const dir of dirs) {
    let found: Awaited<ReturnType<typeof discoverFunctions>>;
    try {
      found = await discoverFunctions(dir);
    } catch (err) {
      fail(displayPath(path.resolve(dir)), err);
      continue;
    }
    for (const { file, error } of found.errors) fail(displayPath(file), error);
    for (const fn of found.functions) {
      const first = byName.get(fn.name);
      if (first === undefined) byName.set(fn.name, fn);
      // The same manifest through two folders (`deploy ./fns ./fns/hello`) is one function.
      else if (first.manifestPath !== fn.manifestPath) fail(fn.name, duplicateError(fn.name, first.manifestPath, fn.manifestPath));
    }
  }
  return [...byName.values()];
}

async function deployOne(fn: FunctionProject, client: SiteClient, out: Output, width: number): Promise<FunctionInfo> {
  const label = fn.name.padEnd(width);
  const bundle = await out.task(
    `${label}  building`,
    () => bundleFunction(fn.entry),
    (b) => `${label}  built ${formatBytes(Buffer.byteLength(b.code, "utf8"))}, ${b.digest.slice(0, 19)}`,
  );
  for (const w of bundle.warnings) out.warn(w);
  return out.task(
    `${label}  uploading and verifying`,
    () => client.deploy(fn.name, deploymentOf(fn, bundle)),
    (info) => `${label}  v${info.version} ${info.status}`,
  );
}

/** The error with the function (or file) it concerns in its message, unless it names it already. */
function prefixed(name: string, err: CodedError): CodedError & { issues?: unknown } {
  return {
    code: err.code,
    message: err.message.includes(name) ? err.message : `${name}: ${err.message}`,
    hint: err.hint,
    details: err.details,
    issues: (err as { issues?: unknown }).issues,
  };
}
