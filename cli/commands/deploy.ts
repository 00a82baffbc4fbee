/**
 * `edgefn deploy <dir>...`: for each function under the folders given, build its bundle,
 * upload it to the site, where it is verified and then made live, and print its URL. One
 * function failing (its manifest, its build, or the site refusing it) is reported with its
 * reason and fix, and the others still deploy; the exit code is 1 if any failed.
 *
 * `edgefn deploy <dir>... --kube --site <name>`: to a Kubernetes cluster instead. Renders exactly
 * what `edgefn manifests --site <name>` renders (renderManifests: placement, bundles, the same
 * validation), then server-side applies it (cli/kube-apply.ts: cluster-scoped objects first,
 * field manager edgefn) through the kubeconfig, and prints what each object did. The runtime
 * pods' in-cluster watcher (runtime/kube-watch.ts) then loads the functions of their tier.
 */
import path from "node:path";
import { z } from "zod";
import { FunctionNameSchema, type FunctionInfo } from "../../runtime/manifest.ts";
import { bundleFunction, deploymentOf } from "../bundle.ts";
import { defineCommand, validateArgs, type CommandContext, type ArgsDef } from "../command.ts";
import { CliError, isCodedError, UsageError, type CodedError } from "../errors.ts";
import type { ApplyResult } from "../kube-apply.ts";
import { DEFAULT_IMAGE, DEFAULT_NAMESPACE } from "../kube/defaults.ts";
import { createOutput, errorJSON, formatBytes, type Output } from "../output.ts";
import { discoverFunctions, displayPath, duplicateError, type FunctionProject } from "../project.ts";
import { createSiteClient, type SiteClient } from "../site-client.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";

/** Options that only mean something with --kube. */
const KUBE_ONLY = ["context", "kubeconfig", "namespace", "image", "untrusted"] as const;

const args = {
  dirs: { type: "positional", multiple: true, description: "Function folders, or folders of functions (default: .)" },
  ...TARGET_ARGS,
  site: { type: "string", valueHint: "url|name", description: "Control API of the site (default: $EDGEFN_SITE); with --kube, the site's name to render for (required)" },
  kube: { type: "boolean", description: "Deploy to a Kubernetes cluster: render as `edgefn manifests --site <name>` does and server-side apply" },
  context: { type: "string", valueHint: "ctx", description: "With --kube: the kubeconfig context (default: its current-context)" },
  kubeconfig: { type: "string", valueHint: "file", description: "With --kube: the kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)" },
  namespace: { type: "string", valueHint: "name", description: `With --kube: namespace of the namespaced objects (default: ${DEFAULT_NAMESPACE})` },
  image: { type: "string", valueHint: "ref", description: `With --kube: runtime image the Deployments run (default: ${DEFAULT_IMAGE})` },
  untrusted: { type: "boolean", description: "With --kube: the site is untrusted; functions with placement.trust trusted are left out" },
  json: { type: "boolean", description: "Print the results as JSON" },
} as const;

const ArgsSchema = z.object({
  dirs: z.array(z.string().min(1)).transform((d) => (d.length === 0 ? ["."] : d)),
  site: z.string().optional(),
  token: z.string().optional(),
  kube: z.boolean(),
  context: z.string().min(1).optional(),
  kubeconfig: z.string().min(1).optional(),
  namespace: z.string().optional(),
  image: z.string().optional(),
  untrusted: z.boolean(),
  json: z.boolean(),
});

const KubeArgsSchema = ArgsSchema.extend({
  site: FunctionNameSchema,
  namespace: FunctionNameSchema.default(DEFAULT_NAMESPACE),
  image: z.string().min(1).default(DEFAULT_IMAGE),
});

/** One entry of `--json` output per function (or per folder whose functions could not be read). */
export type DeployResult =
  | { name: string; ok: true; function: FunctionInfo }
  | { name: string; ok: false; error: Record<string, unknown> };

/** `--kube --json`: what was rendered and what each object did. */
export interface KubeDeployResult {
  site: string;
  context: string;
  server: string;
  namespace: string;
  functions: { name: string; priority: string; pool: string; digest: string }[];
  skipped: { name: string; reason: string }[];
  objects: ApplyResult[];
}

export default defineCommand({
  meta: {
    name: "deploy",
    description: "Build functions and deploy them to a site; each goes live once the site has verified it.",
    examples: [
      "edgefn deploy ./fns/hello ./fns/api",
      "edgefn deploy ./fns --site http://127.0.0.1:9081 --token $(cat ./site-a/control.token)",
      "edgefn deploy ./fns --kube --site edge-1 --context prod --namespace edgefn",
    ],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    if (a.kube) return deployKube(ctx);
    const stray = KUBE_ONLY.filter((k) => a[k] !== undefined && a[k] !== false);
    if (stray.length > 0) {
      throw new UsageError(`${stray.map((k) => `--${k}`).join(", ")} only ${stray.length === 1 ? "applies" : "apply"} with --kube.`, { usage: ctx.usage });
    }
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

async function deployKube(ctx: CommandContext<typeof args>): Promise<void> {
  const raw = ctx.args as { site?: string; token?: string };
  if (raw.site === undefined || raw.site.trim() === "") {
    throw new UsageError("deploy --kube needs --site <name>: the site to render for, as `edgefn manifests --site <name>`.", { usage: ctx.usage });
  }
  if (raw.token !== undefined) {
    throw new UsageError("--token is for a site's control API; deploy --kube uses the kubeconfig's credentials.", { usage: ctx.usage });
  }
  const a = validateArgs(ctx, args as ArgsDef, KubeArgsSchema);
  const out = createOutput({ json: a.json });
  // Loaded only here: the renderer, its validation and the Kubernetes client are the heaviest
  // modules of the cli, and a plain `edgefn deploy` needs none of them.
  const [{ applyObjects, KubeApplyError, loadKubeConfig }, { objectRef }, { renderManifests }] = await Promise.all([
    import("../kube-apply.ts"),
    import("../kube/validate.ts"),
    import("./manifests.ts"),
  ]);
  // The kubeconfig is read before anything is built: a missing one or an unknown context fails fast.
  const kc = loadKubeConfig({ kubeconfigPath: a.kubeconfig, context: a.context });
  const server = kc.getCurrentCluster()!.server;

  const rendered = await renderManifests({ dirs: a.dirs, site: a.site, image: a.image, namespace: a.namespace, trust: a.untrusted ? "untrusted" : "trusted", out });
  const objects = rendered.rendered.objects;
  out.step(`Applying ${objects.length} objects for site ${a.site} to ${server} (context ${kc.getCurrentContext()}, namespace ${a.namespace})`);
  const width = Math.max(...objects.map((o) => objectRef(o).length));
  const print = (r: ApplyResult) => out.log(`  ${`${r.kind}/${r.name}`.padEnd(width)}  ${r.action}`);
  let results: ApplyResult[];
  try {
    results = await applyObjects(objects, { kubeconfigPath: a.kubeconfig, context: a.context, namespace: a.namespace });
  } catch (err) {
    if (err instanceof KubeApplyError && !out.json) err.applied.forEach(print);
    throw err;
  }
  results.forEach(print);

  const data: KubeDeployResult = {
    site: a.site,
    context: kc.getCurrentContext(),
    server,
    namespace: a.namespace,
    functions: rendered.placed,
    skipped: rendered.skipped,
    objects: results,
  };
  out.data(data);
  const count = (action: ApplyResult["action"]) => results.filter((r) => r.action === action).length;
  out.success(
    `Applied ${results.length} objects for site ${a.site} (${rendered.placed.length} function${rendered.placed.length === 1 ? "" : "s"}): ` +
      `${count("created")} created, ${count("configured")} configured, ${count("unchanged")} unchanged`,
  );
  out.log(`The runtimes read their control token from Secret edgefn-control (key: token) in namespace ${a.namespace}; create it if it is not there.`);
  out.log(`Each EdgeFunction's status says whether its runtime pods run it: kubectl get edgefunctions -n ${a.namespace}`);
}

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
