/**
 * A FAKE Kubernetes API server for tests: HTTPS on 127.0.0.1 with a self-signed CA made at
 * start, bearer-token auth, and just enough of the API for @kubernetes/client-node to apply,
 * read, list, watch and delete objects. It keeps objects in memory and exposes them to tests.
 * There is no cluster behind it: nothing here is proof that a real API server agrees.
 *
 * What it does:
 * - discovery: /api, /apis, /api/v1 and /apis/<group>/<version> for the kinds in RESOURCES
 *   (core v1, apps/v1, policy/v1, networking.k8s.io/v1, scheduling.k8s.io/v1, rbac, and
 *   apiextensions.k8s.io/v1), plus edgefn.dev/v1alpha1 edgefunctions (with /status);
 * - GET one, LIST (namespaced, cluster-wide), POST create, PUT replace, DELETE;
 * - PATCH: server-side apply (`application/apply-patch+yaml`, fieldManager required, create
 *   or merge, `force`), merge patch (`application/merge-patch+json`; strategic merge patch is
 *   treated as a merge patch), on the object or on its `/status` subresource;
 * - WATCH (`?watch=true`): JSON lines of ADDED/MODIFIED/DELETED, each with the object's new
 *   resourceVersion, from the `resourceVersion` asked (no resourceVersion: every current
 *   object as ADDED first); one global resourceVersion counter that only moves on a change,
 *   so an apply that changes nothing keeps the resourceVersion;
 * - metadata.uid, creationTimestamp, generation (bumped when anything outside metadata and
 *   status changes), managedFields (one entry per manager, simplified).
 *
 * What it does NOT do: no admission (webhooks, quotas, LimitRanges), no defaulting, no
 * validation beyond "the body is JSON and names itself" (CRD schemas are stored, never
 * checked; YAML bodies other than JSON are refused), no RBAC (only `forbid()` to simulate a
 * 403), no controllers or scheduler (a Deployment never gets pods, status is never written
 * but by clients), no CRD establishment (only the kinds in RESOURCES are served, whatever
 * CRDs are applied), no finalizers or garbage collection, no label/field selectors, no
 * pagination, no watch bookmarks or 410 Gone (history is never compacted), no protobuf, no
 * JSON patch. Server-side apply's field ownership is simplified: an apply replaces each
 * top-level field it names (labels and annotations merge), and a conflict is reported only
 * when another manager applied last and the result would differ.
 */
import { KeyObject, randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
// tsyringe (under @peculiar/x509) needs the Reflect metadata API loaded before it.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export interface ResourceType {
  group: string; // "" for core
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  status?: boolean;
}

export const RESOURCES: ResourceType[] = [
  { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false },
  { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
  { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  { group: "", version: "v1", kind: "Service", plural: "services", namespaced: true, status: true },
  { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true },
  { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true, status: true },
  { group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets", namespaced: true, status: true },
  { group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true, status: true },
  { group: "policy", version: "v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets", namespaced: true, status: true },
  { group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies", namespaced: true },
  { group: "networking.k8s.io", version: "v1", kind: "Ingress", plural: "ingresses", namespaced: true, status: true },
  { group: "scheduling.k8s.io", version: "v1", kind: "PriorityClass", plural: "priorityclasses", namespaced: false },
  { group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true },
  { group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true },
  { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false },
  { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false },
  { group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false, status: true },
  { group: "edgefn.dev", version: "v1alpha1", kind: "EdgeFunction", plural: "edgefunctions", namespaced: true, status: true },
];

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: { manager: string; operation: string; apiVersion: string; time: string; subresource?: string }[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: KubeObject;
}

export interface RequestRecord {
  method: string;
  path: string;
  contentType: string | undefined;
  fieldManager: string | null;
  status: number;
}

export interface FakeKube {
  /** e.g. https://127.0.0.1:41234 */
  url: string;
  token: string;
  /** PEM of the CA that signed the server's certificate. */
  caPem: string;
  /** A kubeconfig (context "fake", namespace "default") for clients; removed on close. */
  kubeconfigPath: string;
  /** Every request so far, in order. */
  requests: RequestRecord[];
  /** The current object, or undefined. `apiVersion` as in the object (`v1`, `apps/v1`). */
  get(apiVersion: string, kind: string, name: string, namespace?: string): KubeObject | undefined;
  /** Every current object, optionally of one kind. */
  list(kind?: string): KubeObject[];
  /** Creates or replaces an object as a client would (new resourceVersion, watch event). */
  put(object: KubeObject): KubeObject;
  /** Deletes an object as a client would; false if there was none. */
  remove(apiVersion: string, kind: string, name: string, namespace?: string): boolean;
  /** Every write (POST/PUT/PATCH/DELETE) to `plural` answers 403 from now on, as RBAC would. */
  forbid(plural: string, user?: string): void;
  /** Ends every open watch stream (clients should reconnect from their last resourceVersion). */
  dropWatches(): void;
  /** Events received so far, in order. */
  events: WatchEvent[];
  close(): Promise<void>;
}

export interface FakeKubeOptions {
  /** Bearer token it accepts; default random. */
  token?: string;
  /** Namespace of the kubeconfig's context; default "default". */
  namespace?: string;
}

type Key = string;
const keyOf = (t: ResourceType, namespace: string | undefined, name: string): Key =>
  `${t.group}/${t.plural}/${t.namespaced ? (namespace ?? "") : ""}/${name}`;
const apiVersionOf = (t: ResourceType) => (t.group === "" ? t.version : `${t.group}/${t.version}`);

export async function startFakeKube(opts: FakeKubeOptions = {}): Promise<FakeKube> {
  const token = opts.token ?? randomBytes(24).toString("hex");
  const tls = await selfSignedTls();
  const store = new Map<Key, KubeObject>();
  const history: { rv: number; type: WatchEvent["type"]; object: KubeObject; t: ResourceType }[] = [];
  const events: WatchEvent[] = [];
  const requests: RequestRecord[] = [];
  const forbidden = new Map<string, string>();
  const watchers = new Set<{ t: ResourceType; namespace: string | undefined; res: ServerResponse }>();
  let rv = 1000;

  const typeOf = (apiVersion: string, kind: string) =>
    RESOURCES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);

  function record(type: WatchEvent["type"], t: ResourceType, object: KubeObject): void {
    const copy = structuredClone(object);
    history.push({ rv: Number(object.metadata.resourceVersion), type, object: copy, t });
    events.push({ type, object: copy });
    for (const w of watchers) {
      if (w.t === t && (w.namespace === undefined || w.namespace === object.metadata.namespace)) {
        w.res.write(`${JSON.stringify({ type, object: copy })}\n`);
      }
    }
  }

  /** Stores `next` as the new state of its object; returns it with server fields set. */
  function commit(t: ResourceType, next: KubeObject, previous: KubeObject | undefined, manager: string, operation: string, subresource?: string): KubeObject {
    const now = new Date().toISOString();
    const meta = next.metadata;
    meta.uid = previous?.metadata.uid ?? randomUUID();
    meta.creationTimestamp = previous?.metadata.creationTimestamp ?? now;
    if (t.namespaced) meta.namespace = meta.namespace ?? "default";
    else delete meta.namespace;
    const specChanged = previous === undefined || JSON.stringify(withoutMeta(previous)) !== JSON.stringify(withoutMeta(next));
    meta.generation = previous === undefined ? 1 : (previous.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    const fields = (previous?.metadata.managedFields ?? []).filter((f) => !(f.manager === manager && f.operation === operation && f.subresource === subresource));
    meta.managedFields = [...fields, { manager, operation, apiVersion: next.apiVersion, time: now, ...(subresource === undefined ? {} : { subresource }) }];
    if (previous !== undefined && sameContent(previous, next)) return previous; // no change: same resourceVersion, no event
    meta.resourceVersion = String(++rv);
    store.set(keyOf(t, meta.namespace, meta.name), next);
    record(previous === undefined ? "ADDED" : "MODIFIED", t, next);
    return next;
  }

  function removeObject(t: ResourceType, existing: KubeObject): void {
    store.delete(keyOf(t, existing.metadata.namespace, existing.metadata.name));
    existing.metadata.resourceVersion = String(++rv);
    record("DELETED", t, existing);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://fake");
    const path = url.pathname.replace(/\/+$/, "");
    const method = req.method ?? "GET";
    if (req.headers.authorization !== `Bearer ${token}`) {
      return status(res, 401, "Unauthorized", "Unauthorized");
    }
    if (path === "/api") return json(res, 200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] });
    if (path === "/apis") return json(res, 200, apiGroupList());
    if (path === "/version") return json(res, 200, { major: "1", minor: "33", gitVersion: "v1.33.0-fake" });

    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/(.*))?$/.exec(path);
    if (m === null) return status(res, 404, "NotFound", `the server could not find the requested resource (${path})`);
    const group = m[2] ?? "";
    const version = m[1] ?? m[3]!;
    const rest = m[4] === undefined || m[4] === "" ? [] : m[4].split("/").map(decodeURIComponent);
    const types = RESOURCES.filter((r) => r.group === group && r.version === version);
    if (types.length === 0) return status(res, 404, "NotFound", `the server could not find the requested resource`);
    if (rest.length === 0) {
      if (method !== "GET") return status(res, 405, "MethodNotAllowed", `${method} is not allowed here`);
      return json(res, 200, resourceList(group, version, types));
    }

    let namespace: string | undefined;
    let parts = rest;
    if (rest[0] === "namespaces" && rest.length >= 3 && types.some((t) => t.plural === rest[2] && t.namespaced)) {
      namespace = rest[1];
      parts = rest.slice(2);
    }
    const [plural, name, sub, ...extra] = parts;
    const t = types.find((r) => r.plural === plural);
    if (t === undefined || extra.length > 0 || (sub !== undefined && (sub !== "status" || !t.status))) {
      return status(res, 404, "NotFound", `the server could not find the requested resource`);
    }
    const resourceName = t.group === "" ? t.plural : `${t.plural}.${t.group}`;

    if (method !== "GET" && forbidden.has(t.plural)) {
      const verb = { POST: "create", PUT: "update", PATCH: "patch", DELETE: "delete" }[method] ?? method.toLowerCase();
      const scope = t.namespaced ? `in the namespace "${namespace}"` : "at the cluster scope";
      return status(res, 403, "Forbidden",
        `${resourceName} "${name ?? ""}" is forbidden: User "${forbidden.get(t.plural)}" cannot ${verb} resource "${t.plural}" in API group "${t.group}" ${scope}`);
    }

    if (name === undefined) {
      if (method === "GET") {
        const watch = url.searchParams.get("watch");
        if (watch === "true" || watch === "1") return startWatch(t, namespace, url.searchParams.get("resourceVersion"), req, res);
        const items = [...store.values()].filter((o) => typeOf(o.apiVersion, o.kind) === t && (namespace === undefined || o.metadata.namespace === namespace));
        return json(res, 200, { apiVersion: apiVersionOf(t), kind: `${t.kind}List`, metadata: { resourceVersion: String(rv) }, items });
      }
      if (method === "POST") {
        const body = await readJson(req, res);
        if (body === undefined) return;
        const object = checkObject(body, t, namespace, undefined, res);
        if (object === undefined) return;
        if (store.has(keyOf(t, object.metadata.namespace, object.metadata.name))) {
          return status(res, 409, "AlreadyExists", `${resourceName} "${object.metadata.name}" already exists`);
        }
        return json(res, 201, commit(t, object, undefined, url.searchParams.get("fieldManager") ?? "unknown", "Update"));
      }
      return status(res, 405, "MethodNotAllowed", `${method} is not allowed on a collection here`);
    }

    const key = keyOf(t, namespace, name);
    const existing = store.get(key);
    const notFound = () => status(res, 404, "NotFound", `${resourceName} "${name}" not found`);
    switch (method) {
      case "GET":
        return existing === undefined ? notFound() : json(res, 200, existing);
      case "DELETE":
        if (existing === undefined) return notFound();
        removeObject(t, existing);
        return json(res, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name, group: t.group, kind: t.plural, uid: existing.metadata.uid } });
      case "PUT": {
        const body = await readJson(req, res);
        if (body === undefined) return;
        const object = checkObject(body, t, namespace, name, res);
        if (object === undefined) return;
        if (existing === undefined) return notFound();
        const rvAsked = object.metadata.resourceVersion;
        if (rvAsked !== undefined && rvAsked !== existing.metadata.resourceVersion) {
          return status(res, 409, "Conflict", `Operation cannot be fulfilled on ${resourceName} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
        }
        const next = sub === "status" ? { ...structuredClone(existing), status: object.status } : { ...object, status: existing.status };
        return json(res, 200, commit(t, next as KubeObject, existing, url.searchParams.get("fieldManager") ?? "unknown", "Update", sub));
      }
      case "PATCH":
        return patch(t, resourceName, name, namespace, sub, existing, req, res, url);
      default:
        return status(res, 405, "MethodNotAllowed", `${method} is not allowed here`);
    }
  }

  async function patch(
    t: ResourceType, resourceName: string, name: string, namespace: string | undefined, sub: string | undefined,
    existing: KubeObject | undefined, req: IncomingMessage, res: ServerResponse, url: URL,
  ): Promise<void> {
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
    const manager = url.searchParams.get("fieldManager");
    const body = await readJson(req, res);
    if (body === undefined) return;
    if (contentType === "application/apply-patch+yaml") {
      if (manager === null || manager === "") {
        return status(res, 400, "BadRequest", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
      }
      const applied = checkObject(body, t, namespace, name, res);
      if (applied === undefined) return;
      if (existing === undefined) {
        if (sub === "status") return status(res, 404, "NotFound", `${resourceName} "${name}" not found`);
        const { status: _ignored, ...created } = applied;
        return json(res, 201, commit(t, created as KubeObject, undefined, manager, "Apply"));
      }
      const next = sub === "status" ? { ...structuredClone(existing), status: applied.status } : applyOnto(existing, applied);
      const lastApplier = [...(existing.metadata.managedFields ?? [])].reverse().find((f) => f.operation === "Apply" && f.subresource === sub);
      const force = url.searchParams.get("force") === "true";
      if (!force && lastApplier !== undefined && lastApplier.manager !== manager && !sameContent(existing, next)) {
        return status(res, 409, "Conflict",
          `Apply failed with 1 conflict: conflict with "${lastApplier.manager}": fields of ${resourceName} "${name}" are managed by another manager (fake: ownership is per object)`);
      }
      return json(res, 200, commit(t, next, existing, manager, "Apply", sub));
    }
    if (contentType === "application/merge-patch+json" || contentType === "application/strategic-merge-patch+json") {
      if (existing === undefined) return status(res, 404, "NotFound", `${resourceName} "${name}" not found`);
      if (typeof body !== "object" || body === null) return status(res, 400, "BadRequest", "the patch is not a JSON object");
      const patchBody = body as Record<string, unknown>;
      const next =
        sub === "status"
          ? { ...structuredClone(existing), status: mergePatch(existing.status, patchBody.status) }
          : { ...(mergePatch(existing, { ...patchBody, status: undefined }) as KubeObject), status: existing.status };
      if (next.status === undefined) delete next.status;
      return json(res, 200, commit(t, next as KubeObject, existing, manager ?? "unknown", "Update", sub));
    }
    return status(res, 415, "UnsupportedMediaType", `the fake API server does not support patch content type "${contentType}"`);
  }

  function startWatch(t: ResourceType, namespace: string | undefined, fromRv: string | null, req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    const matches = (o: KubeObject) => namespace === undefined || o.metadata.namespace === namespace;
    if (fromRv === null || fromRv === "" || fromRv === "0") {
      for (const o of store.values()) {
        if (typeOf(o.apiVersion, o.kind) === t && matches(o)) res.write(`${JSON.stringify({ type: "ADDED", object: o })}\n`);
      }
    } else {
      for (const e of history) {
        if (e.rv > Number(fromRv) && e.t === t && matches(e.object)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      }
    }
    const watcher = { t, namespace, res };
    watchers.add(watcher);
    req.on("close", () => watchers.delete(watcher));
  }

  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    handle(req, res)
      .catch((error: unknown) => status(res, 500, "InternalError", (error as Error).message))
      .finally(() => {
        const u = new URL(req.url ?? "/", "https://fake");
        requests.push({ method: req.method ?? "GET", path: u.pathname + u.search, contentType: req.headers["content-type"], fieldManager: u.searchParams.get("fieldManager"), status: res.statusCode });
      });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const dir = await mkdtemp(join(tmpdir(), "edgefn-fake-kube-"));
  const kubeconfigPath = join(dir, "kubeconfig");
  // JSON is YAML: client-node's loadFromFile reads it.
  await writeFile(kubeconfigPath, JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster: { server: url, "certificate-authority-data": Buffer.from(tls.caPem).toString("base64") } }],
    users: [{ name: "fake", user: { token } }],
    contexts: [{ name: "fake", context: { cluster: "fake", user: "fake", namespace: opts.namespace ?? "default" } }],
    "current-context": "fake",
  }, null, 2));

  return {
    url,
    token,
    caPem: tls.caPem,
    kubeconfigPath,
    requests,
    events,
    get(apiVersion, kind, name, namespace) {
      const t = typeOf(apiVersion, kind);
      return t === undefined ? undefined : store.get(keyOf(t, namespace ?? (t.namespaced ? "default" : undefined), name));
    },
    list(kind) {
      return [...store.values()].filter((o) => kind === undefined || o.kind === kind);
    },
    put(object) {
      const t = typeOf(object.apiVersion, object.kind);
      if (t === undefined) throw new Error(`the fake API server does not serve ${object.apiVersion} ${object.kind}`);
      const next = structuredClone(object);
      if (t.namespaced) next.metadata.namespace ??= "default";
      return commit(t, next, store.get(keyOf(t, next.metadata.namespace, next.metadata.name)), "test", "Update");
    },
    remove(apiVersion, kind, name, namespace) {
      const t = typeOf(apiVersion, kind);
      const existing = t === undefined ? undefined : store.get(keyOf(t, namespace ?? (t.namespaced ? "default" : undefined), name));
      if (t === undefined || existing === undefined) return false;
      removeObject(t, existing);
      return true;
    },
    forbid(plural, user = "system:serviceaccount:default:edgefn-deployer") {
      forbidden.set(plural, user);
    },
    dropWatches() {
      for (const w of watchers) w.res.end();
      watchers.clear();
    },
    async close() {
      for (const w of watchers) w.res.end();
      watchers.clear();
      server.closeAllConnections();
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };

  function checkObject(body: unknown, t: ResourceType, namespace: string | undefined, name: string | undefined, res: ServerResponse): KubeObject | undefined {
    const o = body as Partial<KubeObject> | null;
    if (typeof o !== "object" || o === null || typeof o.metadata !== "object" || typeof o.metadata?.name !== "string") {
      status(res, 400, "BadRequest", "the object has no metadata.name");
      return undefined;
    }
    if (o.apiVersion !== apiVersionOf(t) || o.kind !== t.kind) {
      status(res, 400, "BadRequest", `the object is ${o.apiVersion} ${o.kind}, not ${apiVersionOf(t)} ${t.kind} as the URL says`);
      return undefined;
    }
    if (name !== undefined && o.metadata.name !== name) {
      status(res, 400, "BadRequest", `the name of the object (${o.metadata.name}) does not match the name in the URL (${name})`);
      return undefined;
    }
    if (t.namespaced && o.metadata.namespace !== undefined && namespace !== undefined && o.metadata.namespace !== namespace) {
      status(res, 400, "BadRequest", `the namespace of the object (${o.metadata.namespace}) does not match the namespace in the URL (${namespace})`);
      return undefined;
    }
    const object = structuredClone(o) as KubeObject;
    if (t.namespaced) object.metadata.namespace = namespace ?? object.metadata.namespace ?? "default";
    // Server-owned fields are the server's.
    for (const f of ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"]) delete object.metadata[f];
    return object;
  }
}

/** The object without metadata and status: what bumps `generation` when it changes. */
function withoutMeta(o: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

/** Same content, ignoring the fields the server writes. */
function sameContent(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { uid: _u, resourceVersion: _r, generation: _g, creationTimestamp: _c, managedFields: _f, ...meta } = o.metadata;
    return JSON.stringify(sortKeys({ ...o, metadata: meta }));
  };
  return strip(a) === strip(b);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
}

/** Simplified SSA: each top-level field applied replaces the old; labels and annotations merge. */
function applyOnto(existing: KubeObject, applied: KubeObject): KubeObject {
  const next = structuredClone(existing);
  for (const [k, v] of Object.entries(applied)) {
    if (k === "metadata" || k === "status") continue;
    next[k] = structuredClone(v);
  }
  const meta = applied.metadata;
  if (meta.labels !== undefined) next.metadata.labels = { ...next.metadata.labels, ...meta.labels };
  if (meta.annotations !== undefined) next.metadata.annotations = { ...next.metadata.annotations, ...meta.annotations };
  return next;
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = typeof target === "object" && target !== null && !Array.isArray(target) ? structuredClone(target as Record<string, unknown>) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === undefined) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function apiGroupList() {
  const groups = [...new Set(RESOURCES.filter((r) => r.group !== "").map((r) => r.group))];
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: groups.map((name) => {
      const versions = [...new Set(RESOURCES.filter((r) => r.group === name).map((r) => r.version))].map((version) => ({ groupVersion: `${name}/${version}`, version }));
      return { name, versions, preferredVersion: versions[0] };
    }),
  };
}

function resourceList(group: string, version: string, types: ResourceType[]) {
  const verbs = ["create", "delete", "get", "list", "patch", "update", "watch"];
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? version : `${group}/${version}`,
    resources: types.flatMap((t) => [
      { name: t.plural, singularName: t.kind.toLowerCase(), namespaced: t.namespaced, kind: t.kind, verbs },
      ...(t.status ? [{ name: `${t.plural}/status`, singularName: "", namespaced: t.namespaced, kind: t.kind, verbs: ["get", "patch", "update"] }] : []),
    ]),
  };
}

async function readJson(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (error) {
    status(res, 400, "BadRequest", `the body is not JSON (the fake API server reads no other YAML): ${(error as Error).message}`);
    return undefined;
  }
}

function json(res: ServerResponse, code: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code });
}

/** A CA and a server certificate for 127.0.0.1 (IP SAN), ECDSA P-256. */
async function selfSignedTls(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(Date.now() + 24 * 3_600_000);
  const caKeys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString("hex"),
    name: "CN=edgefn fake kube CA",
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString("hex"),
    subject: "CN=fake-kube-apiserver",
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: "ip", value: "127.0.0.1" }, { type: "dns", value: "localhost" }]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  return {
    caPem: ca.toString("pem"),
    certPem: cert.toString("pem"),
    keyPem: KeyObject.from(keys.privateKey).export({ type: "pkcs8", format: "pem" }).toString(),
  };
}
