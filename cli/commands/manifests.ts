/**
 * `edgefn manifests <dir>... --site <name> --out <dir>`: renders a site's Kubernetes manifests
 * for GitOps (DESIGN.md, "Kubernetes"): every function under the folders given whose placement
 * matches the site is bundled and rendered with the CRD, PriorityClasses, runtime pools, router,
 * Services, NetworkPolicies and PDBs (cli/kube/render.ts). The set is validated against the
 * Kubernetes API schemas before anything is written; the folder's rendered parts are replaced
 * as a whole, so a removed function leaves no file behind.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { FunctionNameSchema, type Bundle } from "../../runtime/manifest.ts";
import { bundleFunction } from "../bundle.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { CliError } from "../errors.ts";
import { placeOnSite, type SiteTrust } from "../kube/placement.ts";
import { DEFAULT_IMAGE, DEFAULT_NAMESPACE, fileText, renderSite, type Rendered } from "../kube/render.ts";
import { groupPools } from "../kube/runtime-pools.ts";
import { formatProblems, validateObjects } from "../kube/validate.ts";
import { createOutput, type Output } from "../output.ts";
import { discoverFunctions, displayPath, duplicateError, type FunctionProject } from "../project.ts";

const args = {
  dirs: { type: "positional", multiple: true, description: "Function folders, or folders of functions (default: .)" },
  site: { type: "string", required: true, valueHint: "name", description: "The site to render for; functions placed elsewhere are left out" },
  out: { type: "string", alias: "o", valueHint: "dir", description: "Where to write cluster/ and namespace/ (default: deploy/<site>)" },
  image: { type: "string", default: DEFAULT_IMAGE, valueHint: "ref", description: "Runtime image (runtime/Dockerfile) the Deployments run" },
  namespace: { type: "string", default: DEFAULT_NAMESPACE, valueHint: "name", description: "Namespace of the namespaced objects (set by kustomize)" },
  untrusted: { type: "boolean", description: "The site is untrusted: functions with placement.trust trusted are left out" },
  json: { type: "boolean", description: "Print the result as JSON" },
} as const;

const ArgsSchema = z.object({
  dirs: z.array(z.string().min(1)).transform((d) => (d.length === 0 ? ["."] : d)),
  site: FunctionNameSchema,
  out: z.string().min(1).optional(),
  image: z.string().min(1),
  namespace: FunctionNameSchema,
  untrusted: z.boolean(),
  json: z.boolean(),
});

export interface ManifestsOptions {
  dirs: string[];
  site: string;
  image: string;
  namespace: string;
  trust: SiteTrust;
  /** Progress lines; silent when absent. */
  out?: Output;
}

export interface ManifestsResult {
  rendered: Rendered;
  placed: { name: string; priority: string; pool: string; digest: string }[];
  skipped: { name: string; reason: string }[];
}

export default defineCommand({
  meta: {
    name: "manifests",
    description: "Render a site's Kubernetes manifests (plain YAML, kustomize-ready) for GitOps or kubectl apply -k.",
    examples: [
      "edgefn manifests ./fns --site edge-1 --out ./deploy/edge-1",
      "kubectl apply -k ./deploy/edge-1            # or: cluster/ by an admin, namespace/ by the team",
    ],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const outDir = path.resolve(a.out ?? path.join("deploy", a.site));
    const result = await renderManifests({ dirs: a.dirs, site: a.site, image: a.image, namespace: a.namespace, trust: a.untrusted ? "untrusted" : "trusted", out });
    const files = await writeRendered(result.rendered, outDir);

    out.data({ site: a.site, out: outDir, files, functions: result.placed, skipped: result.skipped });
    out.success(`Rendered ${result.placed.length} function${result.placed.length === 1 ? "" : "s"} for site ${a.site} into ${displayPath(outDir)}`);
    for (const f of files) out.log(`  ${displayPath(path.join(outDir, f))}`);
    out.log();
    out.log(`Apply: kubectl apply -k ${displayPath(path.join(outDir, "cluster"))} (cluster-admin), then kubectl apply -k ${displayPath(path.join(outDir, "namespace"))}`);
    out.log(`The runtimes read their control token from Secret edgefn-control (key: token) in namespace ${a.namespace}; create it first.`);
  },
});

/** Discovers, places, bundles, renders and validates; throws ERR_KUBE_INVALID listing every problem. */
export async function renderManifests(opts: ManifestsOptions): Promise<ManifestsResult> {
  const functions = await discoverAll(opts.dirs);
  const skipped: ManifestsResult["skipped"] = [];
  const placed: FunctionProject[] = [];
  for (const fn of functions) {
    const decision = placeOnSite(fn.manifest, opts.site, opts.trust);
    if (decision.placed) placed.push(fn);
    else {
      skipped.push({ name: fn.name, reason: decision.reason });
      opts.out?.step(`Skipping ${fn.name}: ${decision.reason}`);
    }
  }
  if (placed.length === 0) {
    throw new CliError("ERR_NOTHING_PLACED", `None of the ${functions.length} functions found is placed at site ${opts.site}.`, {
      details: skipped.map((s) => `${s.name}: ${s.reason}`).join("\n"),
      hint: "Check --site, and spec.placement.sites (globs such as edge-*) and placement.trust in the edgefn.yaml files.",
    });
  }

  const bundles: { manifest: FunctionProject["manifest"]; bundle: Bundle }[] = [];
  for (const fn of placed) {
    const bundle = opts.out
      ? await opts.out.task(`Building ${fn.name}`, () => bundleFunction(fn.entry), (b) => `Built ${fn.name} (${b.digest.slice(0, 19)})`)
      : await bundleFunction(fn.entry);
    for (const w of bundle.warnings) opts.out?.warn(w);
    bundles.push({ manifest: fn.manifest, bundle: { code: bundle.code, sourceMap: bundle.sourceMap, digest: bundle.digest } });
  }

  const rendered = renderSite({ site: opts.site, image: opts.image, namespace: opts.namespace, trust: opts.trust, functions: bundles });
  const problems = validateObjects(rendered.objects);
  if (problems.length > 0) {
    throw new CliError("ERR_KUBE_INVALID", `${problems.length} problem${problems.length === 1 ? "" : "s"} in the rendered Kubernetes objects; nothing was written.`, {
      details: formatProblems(problems),
      hint: "Each line names the object and field. If it comes from an edgefn.yaml (a name, a label), fix it there; otherwise it is an edgefn bug: please report it.",
    });
  }
  const poolOf = new Map(groupPools(bundles.map((b) => b.manifest)).flatMap((p) => p.functions.map((f) => [f.metadata.name, p.name] as const)));
  return {
    rendered,
    skipped,
    placed: bundles.map(({ manifest, bundle }) => ({
      name: manifest.metadata.name,
      priority: manifest.spec.priority,
      pool: poolOf.get(manifest.metadata.name)!,
      digest: bundle.digest,
    })),
  };
}

/** Replaces `<outDir>`'s kustomization.yaml, cluster/ and namespace/; returns the files written, relative. */
export async function writeRendered(rendered: Rendered, outDir: string): Promise<string[]> {
  await rm(path.join(outDir, "cluster"), { recursive: true, force: true });
  await rm(path.join(outDir, "namespace"), { recursive: true, force: true });
  for (const file of rendered.files) {
    const target = path.join(outDir, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, fileText(file));
  }
  return rendered.files.map((f) => f.path);
}

/** Every function under `dirs`, each once; any manifest that cannot be read stops the render. */
async function discoverAll(dirs: string[]): Promise<FunctionProject[]> {
  const byName = new Map<string, FunctionProject>();
  const errors: CliError[] = [];
  for (const dir of dirs) {
    const found = await discoverFunctions(dir);
    errors.push(...found.errors.map((e) => e.error));
    for (const fn of found.functions) {
      const first = byName.get(fn.name);
      if (first === undefined) byName.set(fn.name, fn);
      else if (first.manifestPath !== fn.manifestPath) errors.push(duplicateError(fn.name, first.manifestPath, fn.manifestPath));
    }
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) {
    throw new CliError(errors[0]!.code, `${errors.length} manifests could not be read; nothing was rendered.`, {
      details: errors.map((e) => [e.message, e.details].filter(Boolean).join("\n")).join("\n\n"),
      hint: errors[0]!.hint,
    });
  }
  return [...byName.values()].sort((x, y) => x.name.localeCompare(y.name));
}
