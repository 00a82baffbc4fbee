/**
 * The Flux layout of a site's manifests (`edgefn manifests --flux`), in the shape of Flux's
 * flux2-kustomize-helm-example, inside the fleet repository Flux pulls:
 *
 *   clusters/<site>/edgefn-source.yaml          GitRepository "edgefn" (flux-system): the fleet repo
 *   clusters/<site>/edgefn-infrastructure.yaml  Kustomization: ./infrastructure/edgefn, waits until ready
 *   clusters/<site>/edgefn-apps.yaml            Kustomization: ./apps/<site>, after the infrastructure
 *   infrastructure/edgefn/                      the CRD and PriorityClasses: the same bytes for every site
 *   apps/<site>/                                the site's Namespace and its namespaced objects
 *
 * The Namespace moves from the cluster-scoped part to apps/<site>: the infrastructure folder is
 * shared by every site in the repository, and a site rendered with another --namespace would
 * otherwise rewrite it under the others. Flux applies Namespaces before what lives in them.
 * clusters/<site> also holds what `flux bootstrap` wrote there (flux-system/): only the three
 * edgefn-*.yaml files are ours, and no kustomization.yaml is written, so Flux's generated one
 * picks them up.
 *
 * Pure: a rendered site in, files out; validateFlux checks the Flux objects (flux-cd models,
 * unknown fields, names, durations, and that each reference and path resolves in the layout).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Kustomization as FluxKustomization } from "@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1/Kustomization";
import { GitRepository } from "@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1/GitRepository";
import { modelDeclaration } from "./known-fields.ts";
import { LABEL, type KubeObject } from "./labels.ts";
import type { Commented } from "./network-policies.ts";
import type { Rendered, RenderedFile } from "./render.ts";
import { DNS_SUBDOMAIN, modelProblems, objectRef, type ModelClass, type Problem } from "./validate.ts";

export const FLUX_DEFAULTS = { branch: "main", interval: "1m" } as const;

/** Where Flux's own objects live (`flux bootstrap`'s namespace). */
export const FLUX_NAMESPACE = "flux-system";
export const SOURCE_NAME = "edgefn";
export const INFRASTRUCTURE_NAME = "edgefn-infrastructure";
export const APPS_NAME = "edgefn-apps";
export const INFRASTRUCTURE_DIR = "infrastructure/edgefn";

/** How often Flux re-applies the Kustomizations (drift correction); a new commit applies at once. */
const RECONCILE_INTERVAL = "10m";

/** What every rendered file starts with (render.ts's header): files without it are not ours. */
export const RENDERED_MARK = "# Rendered by `edgefn manifests`";

export interface FluxOptions {
  site: string;
  /** The fleet repository's URL, as Flux clones it (https://, http:// or ssh://). */
  repo: string;
  branch: string;
  /** How often Flux fetches the repository: a Go duration (`1m`). */
  interval: string;
  /** A Secret in flux-system with the repository's credentials (ssh key, token). */
  secretRef?: string | undefined;
  /** The site's namespace: apps/<site> sets it on every object (the renderer's --namespace). */
  namespace: string;
}

export interface FluxLayout {
  /** Every file, its path relative to the repository's root. */
  files: RenderedFile[];
  /** The Flux objects (clusters/<site>): what validateFlux checks. */
  objects: KubeObject[];
  /** Folders replaced as a whole on every render: infrastructure/edgefn and apps/<site>. */
  owned: string[];
}

export function appsDir(site: string): string {
  return `apps/${site}`;
}

export function clusterDir(site: string): string {
  return `clusters/${site}`;
}

/** Rearranges a rendered site (render.ts's cluster/ and namespace/) into the Flux layout. */
export function renderFlux(rendered: Rendered, opts: FluxOptions): FluxLayout {
  const apps = appsDir(opts.site);
  const cluster = rendered.files.filter((f) => f.path.startsWith("cluster/") && !isKustomization(f));
  const namespaced = rendered.files.filter((f) => f.path.startsWith("namespace/") && !isKustomization(f));
  const isNamespace = (f: RenderedFile) => f.objects.every((o) => o.object.kind === "Namespace");
  const infrastructure = cluster.filter((f) => !isNamespace(f)).map((f) => moved(f, "cluster/", INFRASTRUCTURE_DIR));
  const site = [...cluster.filter(isNamespace), ...namespaced].map((f) => moved(f, f.path.startsWith("cluster/") ? "cluster/" : "namespace/", apps));

  const flux = fluxObjects(opts);
  const clusters = clusterDir(opts.site);
  const files: RenderedFile[] = [
    { path: `${clusters}/edgefn-source.yaml`, objects: [flux.source] },
    { path: `${clusters}/edgefn-infrastructure.yaml`, objects: [flux.infrastructure] },
    { path: `${clusters}/edgefn-apps.yaml`, objects: [flux.apps] },
    kustomization(INFRASTRUCTURE_DIR, infrastructure),
    ...infrastructure,
    kustomization(apps, site, opts.namespace),
    ...site,
  ];
  return { files, objects: [flux.source, flux.infrastructure, flux.apps].map((c) => c.object), owned: [INFRASTRUCTURE_DIR, apps] };
}

function isKustomization(file: RenderedFile): boolean {
  return path.posix.basename(file.path) === "kustomization.yaml";
}

function moved(file: RenderedFile, from: string, to: string): RenderedFile {
  return { ...file, path: `${to}/${file.path.slice(from.length)}` };
}

function kustomization(dir: string, files: RenderedFile[], namespace?: string): RenderedFile {
  const object = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    ...(namespace === undefined ? {} : { namespace }),
    resources: files.map((f) => f.path.slice(dir.length + 1)),
  } as unknown as KubeObject;
  return { path: `${dir}/kustomization.yaml`, objects: [{ object }] };
}

function fluxObjects(opts: FluxOptions): { source: Commented; infrastructure: Commented; apps: Commented } {
  const metadata = (name: string) => ({ name, namespace: FLUX_NAMESPACE, labels: { [LABEL.partOf]: "edgefn" } });
  // A function, not one shared object: the yaml library would write a shared one as an alias.
  const sourceRef = () => ({ kind: "GitRepository", name: SOURCE_NAME });
  return {
    source: {
      comment: `Flux fetches the fleet repository every ${opts.interval}; the two Kustomizations beside this file apply its edgefn folders.`,
      object: {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "GitRepository",
        metadata: metadata(SOURCE_NAME),
        spec: {
          interval: opts.interval,
          url: opts.repo,
          ref: { branch: opts.branch },
          ...(opts.secretRef === undefined ? {} : { secretRef: { name: opts.secretRef } }),
        },
      },
    },
    infrastructure: {
      comment: "Cluster-scoped, the same for every site: the EdgeFunction CRD and the PriorityClasses.\nwait: the apps wait until the CRD is established.",
      object: {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: metadata(INFRASTRUCTURE_NAME),
        spec: { interval: RECONCILE_INTERVAL, retryInterval: "1m", timeout: "5m", path: `./${INFRASTRUCTURE_DIR}`, prune: true, wait: true, sourceRef: sourceRef() },
      },
    },
    apps: {
      comment: `Site ${opts.site}: its namespace (${opts.namespace}), runtime pools, router, Services, NetworkPolicies and functions.\nThe Secret edgefn-control (key: token) in ${opts.namespace} is not in git: create it once.`,
      object: {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: metadata(APPS_NAME),
        spec: {
          interval: RECONCILE_INTERVAL,
          retryInterval: "1m",
          dependsOn: [{ name: INFRASTRUCTURE_NAME }],
          path: `./${appsDir(opts.site)}`,
          prune: true,
          sourceRef: sourceRef(),
        },
      },
    },
  };
}

// --- validation -----------------------------------------------------------------------------

const FLUX_ROOT = path.dirname(fileURLToPath(import.meta.resolve("@kubernetes-models/flux-cd")));

/** known-fields.ts takes paths inside kubernetes-models; the flux-cd package sits beside it. */
function fluxModel(file: string): string {
  const modelsRoot = path.dirname(path.dirname(modelDeclaration("v1/Namespace")));
  return path.relative(modelsRoot, path.join(FLUX_ROOT, file));
}

const FLUX_MODELS: Record<string, { apiVersion: string; model: ModelClass; file: string }> = {
  GitRepository: { apiVersion: "source.toolkit.fluxcd.io/v1", model: GitRepository, file: "source.toolkit.fluxcd.io/v1/GitRepository" },
  Kustomization: { apiVersion: "kustomize.toolkit.fluxcd.io/v1", model: FluxKustomization, file: "kustomize.toolkit.fluxcd.io/v1/Kustomization" },
};

/** Flux's CRDs: `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$` (the flux-cd models leave the pattern out). */
export const DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Every problem in the layout's Flux objects; empty when Flux can apply them. */
export function validateFlux(layout: FluxLayout): Problem[] {
  const problems: Problem[] = [];
  const sources = new Set(layout.objects.filter((o) => o.kind === "GitRepository").map((o) => `${namespaceOf(o)}/${o.metadata.name}`));
  const kustomizations = new Set(layout.objects.filter((o) => o.kind === "Kustomization").map((o) => `${namespaceOf(o)}/${o.metadata.name}`));
  const dirs = new Set(layout.files.filter(isKustomization).map((f) => path.posix.dirname(f.path)));
  for (const obj of layout.objects) {
    const add = (at: string, message: string) => problems.push({ object: objectRef(obj), path: at, message });
    const entry = FLUX_MODELS[obj.kind];
    if (!entry) {
      add("kind", `no schema for kind ${obj.kind}: the Flux layout holds ${Object.keys(FLUX_MODELS).join(" and ")} objects`);
      continue;
    }
    if (obj.apiVersion !== entry.apiVersion) add("apiVersion", `must be ${entry.apiVersion} for ${obj.kind}`);
    modelProblems(obj, entry.model, fluxModel(entry.file), add);
    checkName(obj.metadata.name, "metadata.name", add);
    const namespace = (obj.metadata as { namespace?: unknown }).namespace;
    if (typeof namespace !== "string" || namespace.length > 63 || !DNS_LABEL.test(namespace)) add("metadata.namespace", `${JSON.stringify(namespace)} is not a DNS-1123 label`);

    const spec = (obj.spec ?? {}) as Record<string, unknown>;
    for (const key of ["interval", "timeout", "retryInterval"]) {
      const v = spec[key];
      if (v !== undefined && (typeof v !== "string" || !DURATION.test(v))) add(`spec.${key}`, `${JSON.stringify(v)} is not a duration such as 1m, 30s or 1h30m`);
    }
    if (obj.kind === "GitRepository") {
      const problem = typeof spec["url"] === "string" ? repoUrlProblem(spec["url"]) : undefined;
      if (problem !== undefined) add("spec.url", problem);
      const branch = (spec["ref"] as { branch?: unknown } | undefined)?.branch;
      const bad = typeof branch === "string" ? branchNameProblem(branch) : undefined;
      if (bad !== undefined) add("spec.ref.branch", bad);
      const secret = (spec["secretRef"] as { name?: unknown } | undefined)?.name;
      if (secret !== undefined) checkName(secret, "spec.secretRef.name", add);
    }
    if (obj.kind === "Kustomization") {
      const ref = spec["sourceRef"] as { kind?: unknown; name?: unknown; namespace?: unknown } | undefined;
      if (ref?.kind === "GitRepository" && !sources.has(`${String(ref.namespace ?? namespaceOf(obj))}/${String(ref.name)}`)) {
        add("spec.sourceRef", `names GitRepository ${String(ref.name)}, which the layout does not hold`);
      }
      for (const [i, dep] of ((spec["dependsOn"] ?? []) as { name?: unknown; namespace?: unknown }[]).entries()) {
        if (!kustomizations.has(`${String(dep.namespace ?? namespaceOf(obj))}/${String(dep.name)}`)) {
          add(`spec.dependsOn[${i}].name`, `names Kustomization ${String(dep.name)}, which the layout does not hold`);
        }
      }
      const p = spec["path"];
      if (typeof p !== "string" || !dirs.has(path.posix.normalize(p))) {
        add("spec.path", `${JSON.stringify(p)} is not a folder of the layout with a kustomization.yaml (${[...dirs].map((d) => `./${d}`).join(", ")})`);
      }
    }
  }
  return problems;
}

function namespaceOf(obj: KubeObject): string {
  return String((obj.metadata as { namespace?: unknown }).namespace);
}

function checkName(name: unknown, at: string, add: (at: string, message: string) => void): void {
  if (typeof name !== "string" || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    add(at, `${JSON.stringify(name)} is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253)`);
  }
}

/**
 * Why Flux cannot clone `url`, or undefined. Its CRD wants `^(http|https|ssh)://`; credentials
 * in the URL would be committed to git, so they go to a Secret (--secret-ref) instead. The
 * messages never repeat the URL, which may carry a password.
 */
export function repoUrlProblem(url: string): string | undefined {
  const scp = /^([\w.-]+@)?([\w.-]+):(?!\/\/)(.+)$/.exec(url);
  if (scp) return `is an scp-style address, which Flux cannot clone: write it as ssh://${scp[1] ?? "git@"}${scp[2]}/${scp[3]!.replace(/^\//, "")}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a URL: use https://host/org/repo.git or ssh://git@host/org/repo.git";
  }
  if (!["http:", "https:", "ssh:"].includes(parsed.protocol)) return `uses ${parsed.protocol.slice(0, -1)}:, but Flux clones over https://, http:// or ssh://`;
  if (parsed.hostname === "") return "has no host";
  if (parsed.password !== "" || (parsed.protocol !== "ssh:" && parsed.username !== "")) {
    return "carries credentials, which would be committed to git: put them in a Secret in flux-system and pass --secret-ref <name>";
  }
  return undefined;
}

/** Why `name` is not a branch name (git check-ref-format --branch), or undefined. */
export function branchNameProblem(name: string): string | undefined {
  if (name === "") return "is empty";
  if (name.startsWith("refs/")) return "is a ref: give the branch's short name (main, not refs/heads/main)";
  if (name.startsWith("-")) return "cannot start with '-'";
  if (name === "@" || name.includes("@{")) return "cannot be '@' or contain '@{'";
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return "cannot contain spaces, control characters or any of ~ ^ : ? * [ \\";
  if (name.includes("..")) return "cannot contain '..'";
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) return "cannot start or end with '/' or contain '//'";
  if (name.endsWith(".")) return "cannot end with '.'";
  if (name.split("/").some((c) => c.startsWith(".") || c.endsWith(".lock"))) return "cannot have a part that starts with '.' or ends with '.lock'";
  return undefined;
}
