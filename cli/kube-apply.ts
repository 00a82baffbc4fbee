/**
 * Server-side apply of rendered objects to a Kubernetes cluster, through
 * @kubernetes/client-node: what `edgefn deploy --kube` (and `edgefn manifests | kubectl apply
 * --server-side`) does. Cluster-scoped objects go first (CRDs, PriorityClasses, namespaces,
 * cluster roles), then namespaced ones, each in its namespace; every apply uses the field
 * manager "edgefn" with `force`, as `kubectl apply --server-side --force-conflicts` does, so
 * edgefn takes back the fields it owns from a hand edit.
 *
 * Failures are KubeApplyError: a string `code`, a message naming the object and the API's
 * own message, and a hint. It stops at the first object that fails: later objects often
 * need earlier ones (a CRD before its EdgeFunctions).
 *
 * @example
 * ```ts
 * const results = await applyObjects([edgeFunctionCrd(), priorityClass, deployment], { namespace: "edge" });
 * for (const r of results) console.log(`${r.kind}/${r.name} ${r.action}`); // EdgeFunction/hello created
 * ```
 */
import { ApiException, KubeConfig, KubernetesObjectApi, loadYaml, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { CliError, type CliErrorCode } from "./errors.ts";

export const FIELD_MANAGER = "edgefn";

/** Applied first, in this order: what other objects need to exist (or to be served). */
const CLUSTER_FIRST = ["CustomResourceDefinition", "PriorityClass", "Namespace", "ClusterRole", "ClusterRoleBinding"];

export interface ApplyOptions {
  /** A kubeconfig file; default: KubeConfig.loadFromDefault() ($KUBECONFIG, ~/.kube/config, in-cluster). */
  kubeconfigPath?: string;
  /** A context of the kubeconfig; default its current-context. */
  context?: string;
  /**
   * Namespace of the namespaced objects that name none; default the context's namespace,
   * else "default". An object naming another namespace is refused.
   */
  namespace?: string;
  /** How long to wait for a kind a CRD of the same batch defines to be served; default 30 s. */
  crdWaitMs?: number;
}

/** The objects edgefn applies: any Kubernetes object with apiVersion, kind and metadata.name. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ApplyResult {
  apiVersion: string;
  kind: string;
  name: string;
  /** Undefined for cluster-scoped objects. */
  namespace: string | undefined;
  /** created: it did not exist; configured: it changed; unchanged: the apply changed nothing. */
  action: "created" | "configured" | "unchanged";
  resourceVersion: string | undefined;
}

export type KubeApplyErrorCode = Extract<CliErrorCode, `ERR_KUBE${string}`>;

/** A CliError that also says what was applied before the failure. */
export class KubeApplyError extends CliError {
  declare readonly code: KubeApplyErrorCode;
  /** What was applied before the failure. */
  readonly applied: ApplyResult[];

  constructor(code: KubeApplyErrorCode, message: string, opts: { hint?: string; details?: string; cause?: unknown; applied?: ApplyResult[] } = {}) {
    super(code, message, opts);
    this.name = "KubeApplyError";
    this.applied = opts.applied ?? [];
  }
}

/** KubernetesObjectApi with its discovery lookup made public: is a kind namespaced? */
class ObjectApi extends KubernetesObjectApi {
  static forConfig(kc: KubeConfig): ObjectApi {
    const api = kc.makeApiClient(ObjectApi);
    api.setDefaultNamespace(kc);
    return api;
  }
  get namespace(): string {
    return this.defaultNamespace;
  }
  scope(apiVersion: string, kind: string): Promise<{ namespaced: boolean } | undefined> {
    return this.resource(apiVersion, kind);
  }
}

/** Loads the kubeconfig as `kubectl` would; KubeApplyError ERR_KUBECONFIG when it cannot. */
export function loadKubeConfig(opts: Pick<ApplyOptions, "kubeconfigPath" | "context"> = {}): KubeConfig {
  const kc = new KubeConfig();
  const where = opts.kubeconfigPath ?? "the default kubeconfig ($KUBECONFIG, ~/.kube/config or in-cluster)";
  try {
    if (opts.kubeconfigPath !== undefined) kc.loadFromFile(opts.kubeconfigPath);
    else kc.loadFromDefault();
  } catch (cause) {
    throw new KubeApplyError("ERR_KUBECONFIG", `Could not read ${where}: ${(cause as Error).message}`, {
      cause,
      hint: "Pass --kubeconfig <file>, or set KUBECONFIG; `kubectl config view` shows what kubectl would use.",
    });
  }
  if (opts.context !== undefined) {
    if (kc.getContextObject(opts.context) === null) {
      const known = kc.getContexts().map((c) => c.name).join(", ") || "none";
      throw new KubeApplyError("ERR_KUBECONFIG", `The kubeconfig has no context "${opts.context}".`, {
        hint: `Its contexts: ${known}.`,
      });
    }
    kc.setCurrentContext(opts.context);
  }
  if (kc.getCurrentCluster() === null) {
    throw new KubeApplyError("ERR_KUBECONFIG", `${where} names no cluster for context "${kc.getCurrentContext() || "(none)"}".`, {
      hint: "Pick a context with a cluster (--context), or `kubectl config use-context <name>`.",
    });
  }
  return kc;
}

/**
 * Server-side applies `objects` (field manager "edgefn", forced), cluster-scoped kinds first,
 * and returns one result per object, in the order applied. Throws KubeApplyError on the
 * first failure (its `applied` lists what went through before it).
 */
export async function applyObjects(objects: readonly KubeObject[], opts: ApplyOptions = {}): Promise<ApplyResult[]> {
  const kc = loadKubeConfig(opts);
  const api = ObjectApi.forConfig(kc);
  const server = kc.getCurrentCluster()!.server;
  const namespace = opts.namespace ?? api.namespace;
  const crdGroups = new Set(
    objects.filter((o) => o.kind === "CustomResourceDefinition").map((o) => String((o as { spec?: { group?: unknown } }).spec?.group)),
  );
  const rank = (o: KubeObject) => {
    const i = CLUSTER_FIRST.indexOf(o.kind);
    return i === -1 ? CLUSTER_FIRST.length : i;
  };
  const ordered = objects.map((o, i) => ({ o, i })).sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i).map(({ o }) => o);

  const results: ApplyResult[] = [];
  for (const object of ordered) {
    const label = `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name}`;
    const fail = (error: unknown) => toApplyError(error, label, server, results);
    let scope: { namespaced: boolean };
    try {
      scope = await discover(api, object, crdGroups.has(object.apiVersion.split("/")[0]!) ? (opts.crdWaitMs ?? 30_000) : 0);
    } catch (error) {
      throw fail(error);
    }
    const body = structuredClone(object) as KubeObject;
    if (scope.namespaced) {
      if (body.metadata.namespace !== undefined && opts.namespace !== undefined && body.metadata.namespace !== opts.namespace) {
        throw new KubeApplyError("ERR_KUBE_APPLY", `${label} is in namespace "${body.metadata.namespace}", not "${opts.namespace}" as asked.`, {
          hint: "Drop metadata.namespace from the object, or apply to its namespace.",
          applied: results,
        });
      }
      body.metadata.namespace ??= namespace;
    } else {
      delete body.metadata.namespace;
    }
    try {
      const before = await readIfExists(api, body);
      const after = await api.patch(typed(body), undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      const resourceVersion = after.metadata?.resourceVersion;
      results.push({
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: object.metadata.name,
        namespace: scope.namespaced ? body.metadata.namespace : undefined,
        action: before === undefined ? "created" : before.metadata?.resourceVersion === resourceVersion ? "unchanged" : "configured",
        resourceVersion,
      });
    } catch (error) {
      throw fail(error);
    }
  }
  return results;
}

/**
 * The object as client-node's model classes hold it. patch() serializes a built-in kind through
 * its generated model, which reads the model's property names, not the API's: a plain
 * object's `default`, `enum`, `$ref` or `x-kubernetes-preserve-unknown-fields` (a CRD's
 * schema) would be dropped without a word. loadYaml deserializes by the API's names (JSON is
 * YAML), so the serializer writes them back. Fields no model knows are still dropped: edgefn's
 * rendered objects have none (cli/kube/validate.ts refuses unknown fields).
 */
function typed(body: KubeObject): KubernetesObject {
  return loadYaml<KubernetesObject>(JSON.stringify(body));
}

/** Whether the kind is namespaced; waits up to `waitMs` for a kind a CRD just defined. */
async function discover(api: ObjectApi, object: KubeObject, waitMs: number): Promise<{ namespaced: boolean }> {
  const deadline = Date.now() + waitMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 2_000)) {
    let found: { namespaced: boolean } | undefined;
    let failure: unknown;
    try {
      found = await api.scope(object.apiVersion, object.kind);
    } catch (error) {
      // 404: the group/version is not served (yet); anything else is not ours to retry.
      if (!(error instanceof ApiException) || error.code !== 404) throw error;
      failure = error;
    }
    if (found !== undefined) return found;
    if (Date.now() + delay > deadline) {
      throw new KubeApplyError("ERR_KUBE_APPLY", `the cluster does not serve ${object.apiVersion} ${object.kind}`, {
        cause: failure,
        hint: object.apiVersion.startsWith("edgefn.dev/")
          ? "Install the EdgeFunction CRD first (`edgefn deploy --kube` applies it, or `kubectl apply -k <out>/cluster` after `edgefn manifests`), or apply it in the same batch."
          : "Check the apiVersion and kind against `kubectl api-resources`.",
      });
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function readIfExists(api: ObjectApi, body: KubeObject): Promise<KubernetesObject | undefined> {
  try {
    return await api.read({ apiVersion: body.apiVersion, kind: body.kind, metadata: { name: body.metadata.name, ...(body.metadata.namespace === undefined ? {} : { namespace: body.metadata.namespace }) } });
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

/** The API's own words (its Status message), under a message that names the object. */
function toApplyError(error: unknown, label: string, server: string, applied: ApplyResult[]): KubeApplyError {
  if (error instanceof KubeApplyError) {
    return new KubeApplyError(error.code, `Could not apply ${label}: ${error.message}`, { hint: error.hint, cause: error.cause ?? error, applied });
  }
  if (error instanceof ApiException) {
    const apiMessage = statusMessage(error.body) ?? `HTTP ${error.code}`;
    const message = `Could not apply ${label}: ${apiMessage}`;
    switch (error.code) {
      case 401:
        return new KubeApplyError("ERR_KUBE_UNAUTHORIZED", `The API server at ${server} refused the credentials (401) while applying ${label}.`, {
          cause: error, applied,
          hint: "The kubeconfig's token or certificate is wrong or expired: `kubectl auth whoami` shows who you are; log in again.",
        });
      case 403:
        return new KubeApplyError("ERR_KUBE_FORBIDDEN", message, {
          cause: error, applied,
          hint: `Your user may not apply ${label.split(" ")[0]}: \`kubectl auth can-i patch ${label.split(" ")[0]!.toLowerCase()}\`; ask a cluster admin for the edgefn deployer role.`,
        });
      case 409:
        return new KubeApplyError("ERR_KUBE_APPLY", message, { cause: error, applied, hint: "Another field manager owns these fields; edit them through it, or remove them there." });
      default:
        return new KubeApplyError("ERR_KUBE_APPLY", message, { cause: error, applied, hint: "Fix the object (`edgefn manifests` prints what is applied) and deploy again." });
    }
  }
  const reason = networkReason(error);
  if (reason !== undefined) {
    return new KubeApplyError("ERR_KUBE_UNREACHABLE", `Could not reach the Kubernetes API server at ${server} to apply ${label}: ${reason}.`, {
      cause: error, applied,
      hint: "Is the cluster up and the kubeconfig's server address right? `kubectl cluster-info` checks the same connection.",
    });
  }
  return new KubeApplyError("ERR_KUBE_APPLY", `Could not apply ${label}: ${(error as Error).message ?? String(error)}`, { cause: error, applied });
}

function statusMessage(body: unknown): string | undefined {
  if (typeof body === "string") {
    try {
      return statusMessage(JSON.parse(body));
    } catch {
      return body.trim() === "" ? undefined : body.trim();
    }
  }
  const message = (body as { message?: unknown } | null)?.message;
  return typeof message === "string" && message !== "" ? message : undefined;
}

/** A connection failure's reason (ECONNREFUSED, a TLS error, DNS), through fetch's `cause` chain. */
function networkReason(error: unknown): string | undefined {
  for (let e = error as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e !== undefined && e !== null && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === "string" && /^(E[A-Z_]+|UND_ERR_[A-Z_]+|CERT_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_[A-Z_]+|ERR_TLS_[A-Z_]+)$/.test(e.code)) {
      return `${e.code}${typeof e.message === "string" && !e.message.includes(e.code) ? ` (${e.message})` : ""}`;
    }
  }
  if (error instanceof TypeError && error.message === "fetch failed") return "the connection failed";
  return undefined;
}
