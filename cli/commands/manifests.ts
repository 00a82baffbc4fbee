/**
 * `edgefn manifests <dir>... --site <name> --out <dir>`: renders a site's Kubernetes manifests
 * for GitOps (DESIGN.md, "Kubernetes"): every function under the folders given whose placement
 * matches the site is bundled and rendered with the CRD, PriorityClasses, runtime pools, router,
 * Services, NetworkPolicies and PDBs (cli/kube/render.ts). The set is validated against the
 * Kubernetes API schemas before anything is written; the folder's rendered parts are replaced
 * as a whole, so a removed function leaves no file behind.
 *
 * With `--flux`, the same set is written in Flux's layout into a fleet repository
 * (cli/kube/flux.ts): clusters/<site> (a GitRepository and two Flux Kustomizations),
 * infrastructure/edgefn (shared by every site) and apps/<site>.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { FunctionNameSchema, type Bundle } from "../../runtime/manifest.ts";
import { bundleFunction } from "../bundle.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { CliError, UsageError } from "../errors.ts";
import { branchNameProblem, clusterDir, DURATION, FLUX_DEFAULTS, RENDERED_MARK, renderFlux, repoUrlProblem, validateFlux, type FluxLayout, type FluxOptions } from "../kube/flux.ts";
import { placeOnSite, type SiteTrust } from "../kube/placement.ts";
import { DEFAULT_IMAGE, DEFAULT_NAMESPACE, fileText, renderSite, type Rendered } from "../kube/render.ts";
import { groupPools } from "../kube/runtime-pools.ts";
import { formatProblems, validateObjects } from "../kube/validate.ts";
import { createOutput, type Output } from "../output.ts";
import { discoverFunctions, displayPath, duplicateError, type FunctionProject } from "../project.ts";

const args = {
  dirs: { type: "positional", multiple: true, description: "Function folders, or folders of functions (default: .)" },
  site: { type: "string", required: true, valueHint: "name", description: "The site to render for; functions placed elsewhere are left out" },
  out: {
    type: "string",
    alias: "o",
    valueHint: "dir",
    description: "Where to write cluster/ and namespace/ (default: deploy/<site>); with --flux, the root of the fleet repository (default: the current folder)",
  },
  image: { type: "string", default: DEFAULT_IMAGE, valueHint: "ref", description: "Runtime image (runtime/Dockerfile) the Deployments run" },
  namespace: { type: "string", default: DEFAULT_NAMESPACE, valueHint: "name", description: "Namespace of the namespaced objects (set by kustomize)" },
  untrusted: { type: "boolean", description: "The site is untrusted: functions with placement.trust trusted are left out" },
  flux: { type: "boolean", description: "Write Flux's layout into the fleet repository at --out: clusters/<site>, infrastructure/edgefn, apps/<site>" },
  repo: { type: "string", valueHint: "url", description: "With --flux (required): the fleet repository's URL, as Flux clones it (https://, http:// or ssh://)" },
  branch: { type: "string", valueHint: "name", description: `With --flux: the branch Flux follows (default: ${FLUX_DEFAULTS.branch})` },
  interval: { type: "string", valueHint: "duration", description: `With --flux: how often Flux fetches the repository (default: ${FLUX_DEFAULTS.interval})` },
  "secret-ref": { type: "string", valueHint: "name", description: "With --flux: a Secret in flux-system with the repository's credentials (an SSH key for ssh://)" },
  json: { type: "boolean", description: "Print the result as JSON" },
} as const;

const FLUX_ONLY = ["repo", "branch", "interval", "secret-ref"] as const;

const ArgsSchema = z.object({
  dirs: z.array(z.string().min(1)).transform((d) => (d.length === 0 ? ["."] : d)),
  site: FunctionNameSchema,
  out: z.string().min(1).optional(),
  image: z.string().min(1),
  namespace: FunctionNameSchema,
  untrusted: z.boolean(),
  flux: z.boolean(),
  repo: z.string().optional(),
  branch: z
    .string()
    .superRefine((b, ctx) => {
      const problem = branchNameProblem(b);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional(),
  interval: z.string().regex(DURATION, "must be a duration such as 1m, 30s or 1h30m").optional(),
  "secret-ref": z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a Secret name (lower-case letters, digits, '-' and '.')")
    .optional(),
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
      "edgefn manifests ./fns --site edge-1 --flux --repo https://git.example/fleet.git --branch main --out ./fleet",
    ],
  },
  args,
  async run(ctx) {
    checkFluxFlags(ctx.args, ctx.usage);
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const trust = a.untrusted ? "untrusted" : "trusted";
    if (a.flux) {
      const flux: FluxOptions = {
        site: a.site,
        repo: a.repo!,
        branch: a.branch ?? FLUX_DEFAULTS.branch,
        interval: a.interval ?? FLUX_DEFAULTS.interval,
        secretRef: a["secret-ref"],
        namespace: a.namespace,
      };
      const outDir = path.resolve(a.out ?? ".");
      if (!existsSync(path.join(outDir, ".git"))) {
        out.warn(
          `${displayPath(outDir)} is not the root of a git repository: the Flux Kustomizations name their folders from the root of ${flux.repo}.`,
          "Render into a clone of the fleet repository (--out <its root>), then commit and push.",
        );
      }
      if (flux.secretRef === undefined && flux.repo.startsWith("ssh://")) {
        out.warn(
          "Flux needs an SSH key to clone over ssh://, and no --secret-ref was given.",
          `Create one (flux create secret git edgefn-auth --url=${flux.repo}), add its public key to the repository, and render again with --secret-ref edgefn-auth.`,
        );
      }
      const result = await renderManifests({ dirs: a.dirs, site: a.site, image: a.image, namespace: a.namespace, trust, out });
      const layout = renderFluxLayout(result.rendered, flux);
      const files = await writeFluxLayout(layout, outDir, out);

      out.data({ site: a.site, out: outDir, layout: "flux", repo: flux.repo, branch: flux.branch, files, functions: result.placed, skipped: result.skipped });
      out.success(`Rendered ${result.placed.length} function${result.placed.length === 1 ? "" : "s"} for site ${a.site} into ${displayPath(outDir)} (Flux layout)`);
      for (const f of files) out.log(`  ${displayPath(path.join(outDir, f))}`);
      out.log();
      out.log(`Commit and push to ${flux.repo} (branch ${flux.branch}). Flux on ${a.site} applies ${clusterDir(a.site)}/ when bootstrapped with --path=${clusterDir(a.site)}:`);
      out.log(`infrastructure/edgefn (CRD, PriorityClasses) first, then apps/${a.site} once it is ready.`);
      out.log(`The runtimes read their control token from Secret edgefn-control (key: token) in namespace ${a.namespace}; create it first.`);
      return;
    }
    const outDir = path.resolve(a.out ?? path.join("deploy", a.site));
    const result = await renderManifests({ dirs: a.dirs, site: a.site, image: a.image, namespace: a.namespace, trust, out });
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

/**
 * The Flux flags' rules that need a hint, checked before zod (validateArgs would quote --repo,
 * which may carry a password): --repo, --branch, --interval and --secret-ref only with --flux;
 * --flux needs --repo, an https://, http:// or ssh:// URL without credentials.
 */
function checkFluxFlags(raw: { flux: boolean; repo?: string | undefined } & Partial<Record<(typeof FLUX_ONLY)[number], string>>, usage: string): void {
  if (!raw.flux) {
    const stray = FLUX_ONLY.find((f) => raw[f] !== undefined);
    if (stray !== undefined) {
      throw new UsageError(`--${stray} is for the Flux layout, and --flux was not given.`, { usage, hint: `Add --flux to write the Flux layout, or leave --${stray} out.` });
    }
    return;
  }
  if (raw.repo === undefined || raw.repo.trim() === "") {
    throw new UsageError("--flux needs --repo <url>: the fleet repository Flux pulls, whose root is --out.", {
      usage,
      hint: "Add --repo https://git.example/fleet.git (or ssh://git@git.example/fleet.git): the URL of the repository you commit --out to.",
    });
  }
  const problem = repoUrlProblem(raw.repo);
  if (problem !== undefined) {
    throw new UsageError(`Invalid --repo: it ${problem}.`, { usage, hint: "Give the URL Flux clones the fleet repository from, e.g. https://git.example/fleet.git." });
  }
}

/** The Flux layout of a rendered site, its Flux objects validated; throws ERR_KUBE_INVALID. */
export function renderFluxLayout(rendered: Rendered, flux: FluxOptions): FluxLayout {
  const layout = renderFlux(rendered, flux);
  const problems = validateFlux(layout);
  if (problems.length > 0) {
    throw new CliError("ERR_KUBE_INVALID", `${problems.length} problem${problems.length === 1 ? "" : "s"} in the rendered Flux objects; nothing was written.`, {
      details: formatProblems(problems),
      hint: "Each line names the object and field. If it comes from a flag (--repo, --branch, --interval, --secret-ref), fix the flag; otherwise it is an edgefn bug: please report it.",
    });
  }
  return layout;
}

/**
 * Writes the Flux layout under the repository root `outDir`: infrastructure/edgefn and
 * apps/<site> are replaced as a whole, clusters/<site>'s edgefn-*.yaml files are overwritten
 * and nothing else there is touched (flux bootstrap's flux-system/ lives there). Refuses,
 * before writing anything, when a folder it would replace holds files it did not render.
 * Returns the files written, relative to `outDir`.
 */
export async function writeFluxLayout(layout: FluxLayout, outDir: string, out?: Output): Promise<string[]> {
  const clusterFiles = layout.files.filter((f) => !layout.owned.some((d) => f.path.startsWith(`${d}/`)));
  const foreign: string[] = [];
  for (const dir of layout.owned) foreign.push(...(await notRendered(outDir, dir)));
  for (const f of clusterFiles) foreign.push(...(await notRendered(outDir, f.path)));
  if (foreign.length > 0) {
    throw new CliError("ERR_DIR_NOT_EMPTY", `${foreign.length} file${foreign.length === 1 ? "" : "s"} that edgefn did not render would be replaced; nothing was written.`, {
      details: foreign.slice(0, 10).join("\n") + (foreign.length > 10 ? `\n… and ${foreign.length - 10} more` : ""),
      hint: `edgefn owns ${layout.owned.join(" and ")} and its own files in ${path.posix.dirname(clusterFiles[0]!.path)}: move those files elsewhere, or render into another --out.`,
    });
  }
  for (const dir of layout.owned) await rm(path.join(outDir, dir), { recursive: true, force: true });
  for (const file of layout.files) {
    const target = path.join(outDir, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, fileText(file));
  }
  // With a kustomization.yaml of its own, Flux applies only what it lists, not every file.
  const own = path.join(outDir, path.dirname(clusterFiles[0]!.path), "kustomization.yaml");
  if (existsSync(own)) {
    const text = await readFile(own, "utf8");
    const missing = clusterFiles.map((f) => path.posix.basename(f.path)).filter((name) => !text.includes(name));
    if (missing.length > 0) out?.warn(`${displayPath(own)} does not list ${missing.join(", ")}: Flux will not apply them.`, "Add them to its resources.");
  }
  return layout.files.map((f) => f.path);
}

/** Files at `rel` under `root` (a file, or every file of a folder) that lack render.ts's header. */
async function notRendered(root: string, rel: string): Promise<string[]> {
  const at = path.join(root, rel);
  if (!existsSync(at)) return [];
  const entries = (await readdir(at, { recursive: true, withFileTypes: true }).catch(() => null)) ?? null;
  const files = entries === null ? [at] : entries.filter((e) => !e.isDirectory()).map((e) => path.join(e.parentPath, e.name));
  const found: string[] = [];
  for (const file of files) {
    const text = await readFile(file, "utf8").catch(() => "");
    if (!text.startsWith(RENDERED_MARK)) found.push(path.relative(root, file));
  }
  return found;
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
