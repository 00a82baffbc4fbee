/**
 * The runtime inside a Kubernetes cluster: watches the EdgeFunction objects of one namespace
 * (EDGEFN_KUBE_WATCH) and runs those placed on this site and tier, through the same
 * Site.deploy as the control API (verify, then switch: a bundle that fails to load leaves
 * the previous version serving), Site.remove when an object goes or stops being placed here.
 *
 * - Placement: notPlacedAt (manifest.ts), the rule the renderer uses too: spec.placement.sites
 *   globs must match EDGEFN_SITE_NAME, and a `trust: trusted` function never runs on an
 *   untrusted site; placement.requires is node affinity, not a filter here. Tier:
 *   spec.priority must equal EDGEFN_PRIORITY_TIER when that is set.
 * - Bundle: the ConfigMap named by annotation `edgefn.dev/bundle` (data.code, data.sourceMap
 *   optional), its digest in annotation `edgefn.dev/digest`. A new bundle is picked up when
 *   the object changes (a new digest annotation, a new ConfigMap name): the ConfigMap alone
 *   is not watched.
 * - Status (merge patch of the status subresource): `status.sites.<site>` holds this site's
 *   report {phase: Live|Failed, version, digest, message, observedGeneration, updatedAt}, so
 *   sites never overwrite each other; the top-level {phase, version, digest, message, site,
 *   observedGeneration} mirror the latest report of any site.
 * - Watch: client-node's informer (list, then watch from the list's resourceVersion; it
 *   reconnects on its own after a closed stream or a timeout); after an error it is started
 *   again with backoff. A failure that may pass (ConfigMap missing, API unreachable) is
 *   retried with backoff; a bundle that fails verification is not, until the object changes.
 * - On each full list, functions this watcher deployed earlier (state dir) whose object is
 *   gone are removed; functions deployed through the control API are left alone.
 */
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import type { Logger } from "./log.ts";
import { BundleSchema, EdgeFunctionSchema, notPlacedAt, type EdgeFunction, type Priority } from "./manifest.ts";
import type { Site } from "./site.ts";

export const GROUP = "edgefn.dev";
export const VERSION = "v1alpha1";
export const PLURAL = "edgefunctions";
export const BUNDLE_ANNOTATION = "edgefn.dev/bundle";
export const DIGEST_ANNOTATION = "edgefn.dev/digest";
/** Annotations under this prefix are kept in the deployed manifest; the rest (kubectl's) are not. */
const OWN_PREFIX = "edgefn.dev/";

export interface KubeWatchOptions {
  /** The namespace whose EdgeFunctions this runtime runs. */
  namespace: string;
  site: Site;
  siteName: string;
  /** The site's trust now: an untrusted site runs no `trust: trusted` function. */
  trust: () => "trusted" | "untrusted";
  /** Only functions of this priority; undefined: every tier. */
  tier: Priority | undefined;
  logger: Logger;
  /** The manifest of the version serving now (the state store's), to find what this watcher deployed. */
  deployedManifest: (name: string) => EdgeFunction | undefined;
  /** Default: KubeConfig.loadFromDefault() ($KUBECONFIG, ~/.kube/config, in-cluster service account). */
  kubeConfig?: KubeConfig;
  /** First retry delay after a failure that may pass; doubles up to 30 s. Default 1 s. */
  retryMs?: number;
}

export interface KubeWatch {
  /** Resolves when every change seen so far has been applied (for tests). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** The report this site writes into `status.sites.<site>`. */
export interface SiteStatus {
  phase: "Live" | "Failed";
  version: number | null;
  digest: string | null;
  message: string;
  observedGeneration: number | null;
  updatedAt: string;
}

interface EdgeFunctionObject extends KubernetesObject {
  spec?: unknown;
  status?: unknown;
}

type Work = { kind: "apply"; object: EdgeFunctionObject } | { kind: "delete"; name: string };

/** Why `fn` does not run here (placement, or another tier), or undefined when it does. */
export function notPlacedHere(fn: EdgeFunction, where: { site: string; trust: "trusted" | "untrusted"; tier: Priority | undefined }): string | undefined {
  const placement = notPlacedAt(fn, where.site, where.trust);
  if (placement !== undefined) return placement;
  if (where.tier !== undefined && fn.spec.priority !== where.tier) return `priority ${fn.spec.priority} is not this runtime's tier (${where.tier})`;
  return undefined;
}

export { globToRegExp } from "./manifest.ts";

/** The manifest an object stands for: its name, labels, edgefn.dev/ annotations and spec. */
export function manifestOf(object: EdgeFunctionObject): ReturnType<typeof EdgeFunctionSchema.safeParse> {
  const meta = object.metadata ?? {};
  const annotations = Object.fromEntries(Object.entries(meta.annotations ?? {}).filter(([k]) => k.startsWith(OWN_PREFIX)));
  return EdgeFunctionSchema.safeParse({
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: {
      name: meta.name,
      ...(meta.labels === undefined ? {} : { labels: meta.labels }),
      ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
    },
    ...(object.spec === undefined ? {} : { spec: object.spec }),
  });
}

class Transient extends Error {}

export async function startKubeWatch(opts: KubeWatchOptions): Promise<KubeWatch> {
  const log = opts.logger.child({ scope: "kube-watch", namespace: opts.namespace });
  const kc = opts.kubeConfig ?? defaultKubeConfig();
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const { namespace, site, siteName } = opts;
  const baseRetry = opts.retryMs ?? 1_000;

  /** What was last applied (or tried and refused) per function: skips our own status echoes. */
  const applied = new Map<string, string>();
  const pending = new Map<string, Work>();
  const running = new Map<string, Promise<void>>();
  const retries = new Map<string, { timer: NodeJS.Timeout; delay: number }>();
  let closed = false;
  let restartDelay = baseRetry;
  let restartTimer: NodeJS.Timeout | undefined;

  const listFn = async (): Promise<KubernetesListObject<EdgeFunctionObject>> => {
    const list = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL })) as KubernetesListObject<EdgeFunctionObject>;
    restartDelay = baseRetry; // the API answers again
    prune(new Set(list.items.map((o) => o.metadata?.name ?? "")));
    return list;
  };
  const informer: Informer<EdgeFunctionObject> = makeInformer(kc, `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, listFn);

  informer.on("add", (o) => enqueue({ kind: "apply", object: o }));
  informer.on("update", (o) => enqueue({ kind: "apply", object: o }));
  informer.on("delete", (o) => enqueue({ kind: "delete", name: o.metadata?.name ?? "" }));
  informer.on("connect", () => log.debug("watching EdgeFunctions"));
  informer.on("error", (error: unknown) => {
    if (closed) return;
    log.warn({ err: describe(error), retryInMs: restartDelay }, "EdgeFunction watch failed; starting it again");
    restartTimer = setTimeout(() => void informer.start(), restartDelay);
    restartDelay = Math.min(restartDelay * 2, 30_000);
  });

  /** Functions this watcher deployed (they carry the bundle annotation) whose object is gone. */
  function prune(present: Set<string>): void {
    for (const fn of site.list()) {
      if (present.has(fn.name) || pending.has(fn.name)) continue;
      const annotations = opts.deployedManifest(fn.name)?.metadata.annotations ?? {};
      if (annotations[BUNDLE_ANNOTATION] !== undefined) enqueue({ kind: "delete", name: fn.name });
    }
  }

  function enqueue(work: Work): void {
    const name = work.kind === "apply" ? (work.object.metadata?.name ?? "") : work.name;
    if (closed || name === "") return;
    const retry = retries.get(name);
    if (retry !== undefined) clearTimeout(retry.timer);
    pending.set(name, work);
    if (!running.has(name)) {
      const run = drain(name).finally(() => running.delete(name));
      running.set(name, run);
    }
  }

  /** One function at a time, the latest change only. */
  async function drain(name: string): Promise<void> {
    for (let work = pending.get(name); work !== undefined && !closed; work = pending.get(name)) {
      pending.delete(name);
      try {
        if (work.kind === "delete") await removeHere(name, "its EdgeFunction was deleted");
        else await reconcile(work.object);
        retries.delete(name);
      } catch (error) {
        if (!(error instanceof Transient) || closed) {
          log.error({ err: describe(error), service: name }, "could not reconcile EdgeFunction");
          continue;
        }
        const delay = retries.get(name)?.delay ?? baseRetry;
        log.warn({ service: name, err: error.message, retryInMs: delay }, "EdgeFunction not applied yet; retrying");
        const again = work;
        retries.set(name, { delay: Math.min(delay * 2, 30_000), timer: setTimeout(() => { if (!pending.has(name)) enqueue(again); }, delay) });
      }
    }
  }

  async function removeHere(name: string, why: string): Promise<boolean> {
    applied.delete(name);
    try {
      site.get(name);
    } catch {
      return false; // not here
    }
    await site.remove(name);
    log.info({ service: name }, `removed: ${why}`);
    return true;
  }

  async function reconcile(object: EdgeFunctionObject): Promise<void> {
    const name = object.metadata!.name!;
    const generation = object.metadata?.generation ?? null;
    const annotations = object.metadata?.annotations ?? {};
    const parsed = manifestOf(object);
    if (!parsed.success) {
      const message = `invalid EdgeFunction: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`;
      if (once(name, `invalid:${JSON.stringify(object.spec)}`)) await report(name, { phase: "Failed", version: null, digest: null, message, observedGeneration: generation });
      return;
    }
    const manifest = parsed.data;
    const why = notPlacedHere(manifest, { site: siteName, trust: opts.trust(), tier: opts.tier });
    if (why !== undefined) {
      // It may have been placed here before: stop running it and withdraw this site's report.
      if (await removeHere(name, why)) await report(name, null);
      applied.delete(name);
      return;
    }
    const digest = annotations[DIGEST_ANNOTATION];
    const configMap = annotations[BUNDLE_ANNOTATION];
    const key = JSON.stringify([digest, configMap, manifest]);
    if (applied.get(name) === key) return; // our own status update, or nothing new
    if (digest === undefined || configMap === undefined) {
      applied.set(name, key);
      await report(name, { phase: "Failed", version: servingVersion(name), digest: digest ?? null, message: `the EdgeFunction has no ${digest === undefined ? DIGEST_ANNOTATION : BUNDLE_ANNOTATION} annotation: it names no bundle`, observedGeneration: generation });
      return;
    }
    let data: Record<string, string> | undefined;
    try {
      data = (await core.readNamespacedConfigMap({ name: configMap, namespace })).data;
    } catch (error) {
      const message = error instanceof ApiException && error.code === 404 ? `bundle ConfigMap ${namespace}/${configMap} not found` : `could not read bundle ConfigMap ${namespace}/${configMap}: ${describe(error)}`;
      await report(name, { phase: "Failed", version: servingVersion(name), digest, message, observedGeneration: generation }).catch(() => undefined);
      throw new Transient(message);
    }
    const bundle = BundleSchema.safeParse({ code: data?.["code"], ...(data?.["sourceMap"] === undefined ? {} : { sourceMap: data["sourceMap"] }), digest });
    if (!bundle.success) {
      applied.set(name, key);
      const message = `bundle ConfigMap ${namespace}/${configMap} or ${DIGEST_ANNOTATION} is not a bundle: ${bundle.error.issues.map((i) => `${i.path.join(".") || "bundle"}: ${i.message}`).join("; ")}`;
      await report(name, { phase: "Failed", version: servingVersion(name), digest, message, observedGeneration: generation });
      return;
    }
    try {
      const info = await site.deploy({ manifest, bundle: bundle.data });
      applied.set(name, key);
      log.info({ service: name, version: info.version, digest }, "EdgeFunction live");
      await report(name, { phase: "Live", version: info.version, digest: info.digest, message: `v${info.version} serves on site ${siteName}`, observedGeneration: generation });
    } catch (error) {
      applied.set(name, key);
      const serving = servingVersion(name);
      const message = `${describe(error)}${serving === null ? "" : `; v${serving} still serves`}`;
      log.warn({ service: name, digest, err: message }, "EdgeFunction refused");
      await report(name, { phase: "Failed", version: serving, digest, message, observedGeneration: generation });
    }
  }

  /** True the first time `key` is seen for `name` (so a refusal is reported once). */
  function once(name: string, key: string): boolean {
    if (applied.get(name) === key) return false;
    applied.set(name, key);
    return true;
  }

  function servingVersion(name: string): number | null {
    try {
      return site.get(name).version;
    } catch {
      return null;
    }
  }

  /** Writes this site's report (null: withdraws it) through the status subresource. */
  async function report(name: string, status: Omit<SiteStatus, "updatedAt"> | null): Promise<void> {
    const mine: SiteStatus | null = status === null ? null : { ...status, updatedAt: new Date().toISOString() };
    const body = {
      status:
        mine === null
          ? { sites: { [siteName]: null } }
          : { phase: mine.phase, version: mine.version, digest: mine.digest, message: mine.message, site: siteName, observedGeneration: mine.observedGeneration, sites: { [siteName]: mine } },
    };
    try {
      await custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body, fieldManager: `edgefn-runtime-${siteName}` },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    } catch (error) {
      // The object may be gone already; the next change reports again.
      log.warn({ service: name, err: describe(error) }, "could not write EdgeFunction status");
    }
  }

  // Not awaited: the runtime serves (and the control API answers) while the cluster is away.
  void informer.start();
  log.info({ tier: opts.tier ?? "all" }, "watching EdgeFunctions");

  return {
    async idle() {
      while (running.size > 0) await Promise.all(running.values());
    },
    async close() {
      closed = true;
      clearTimeout(restartTimer);
      for (const r of retries.values()) clearTimeout(r.timer);
      await informer.stop();
      await Promise.all(running.values());
    },
  };
}

function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/** One line for logs and status messages: a coded error's code and message, the API's own message. */
function describe(error: unknown): string {
  if (error instanceof ApiException) {
    const body = error.body as { message?: unknown } | string | undefined;
    const message = typeof body === "object" && body !== null && typeof body.message === "string" ? body.message : String(body ?? "");
    return `HTTP ${error.code}${message ? `: ${message}` : ""}`;
  }
  const e = error as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = typeof e?.code === "string" ? e.code : typeof e?.cause?.code === "string" ? e.cause.code : undefined;
  const message = typeof e?.message === "string" ? e.message : String(error);
  return code === undefined || message.startsWith(code) ? message : `${code}: ${message}`;
}
