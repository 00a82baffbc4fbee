/**
 * edgefn and Kubernetes, against a FAKE API server (test/helpers/fake-kube.ts: real HTTPS,
 * a self-signed CA, bearer-token auth, server-side apply, watch), with the real
 * @kubernetes/client-node on the other side: `applyObjects` (cli/kube-apply.ts) and a real
 * runtime process watching EdgeFunctions (runtime/kube-watch.ts).
 *
 * Not covered, because the fake does not do it: admission and validation (CRD schemas are not
 * checked), defaulting, RBAC beyond a simulated 403, controllers and the scheduler (the
 * Deployment never runs pods), CRD establishment delays, watch compaction (410 Gone), and
 * SSA's per-field ownership. Those need a real cluster (kind, k3d), which this suite does not
 * have.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { applyObjects } from "../cli/kube-apply.ts";
import { edgeFunctionCrd } from "../runtime/manifest-schema.ts";
import type { EdgeFunctionInput } from "../runtime/manifest.ts";
import { startFakeKube, type FakeKube, type KubeObject } from "./helpers/fake-kube.ts";
import { inlineFunction } from "./helpers/inline.ts";
import { useTmpDir } from "./helpers/tmp.ts";
import { startRuntime, type Deployment, type RuntimeHandle } from "./helpers/runtime.ts";

const NS = "edge";
let fake: FakeKube;

beforeAll(async () => {
  fake = await startFakeKube({ namespace: NS });
});
afterAll(() => fake.close());

/** Polls `probe` until it returns a value other than undefined. */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? "" : `: ${String(last)}`}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("applyObjects (server-side apply)", () => {
  const objects = () => [
    { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "edgefn-runtime-high", labels: { app: "edgefn" } }, spec: { replicas: 1, selector: { matchLabels: { app: "edgefn" } }, template: { metadata: { labels: { app: "edgefn" } }, spec: { priorityClassName: "edgefn-high", containers: [{ name: "runtime", image: "edgefn/runtime:dev" }] } } } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "hello-bundle" }, data: { code: "export default {}" } },
    { apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name: "applied", annotations: { "edgefn.dev/bundle": "hello-bundle" } }, spec: { priority: "high" } },
    { apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass", metadata: { name: "edgefn-high" }, value: 100000, preemptionPolicy: "PreemptLowerPriority", globalDefault: false },
    edgeFunctionCrd(),
  ];

  it("applies cluster-scoped objects first, then namespaced ones in the namespace, as field manager edgefn", async () => {
    const results = await applyObjects(objects(), { kubeconfigPath: fake.kubeconfigPath, namespace: NS });
    expect(results.map((r) => `${r.action} ${r.kind} ${r.namespace ?? "-"}/${r.name}`)).toEqual([
      "created CustomResourceDefinition -/edgefunctions.edgefn.dev",
      "created PriorityClass -/edgefn-high",
      "created Deployment edge/edgefn-runtime-high",
      "created ConfigMap edge/hello-bundle",
      "created EdgeFunction edge/applied",
    ]);
    const patches = fake.requests.filter((r) => r.method === "PATCH");
    expect(patches).toHaveLength(5);
    for (const p of patches) {
      expect(p.contentType).toBe("application/apply-patch+yaml");
      expect(p.fieldManager).toBe("edgefn");
      expect(p.path).toContain("force=true");
    }
    expect(fake.get("apps/v1", "Deployment", "edgefn-runtime-high", NS)?.metadata.managedFields?.map((f) => [f.manager, f.operation])).toEqual([["edgefn", "Apply"]]);
  });

  it("changes nothing when the same objects are applied again", async () => {
    const before = fake.list().map((o) => [o.kind, o.metadata.name, o.metadata.resourceVersion]);
    const events = fake.events.length;
    const results = await applyObjects(objects(), { kubeconfigPath: fake.kubeconfigPath, namespace: NS });
    expect(results.every((r) => r.action === "unchanged")).toBe(true);
    expect(fake.list().map((o) => [o.kind, o.metadata.name, o.metadata.resourceVersion])).toEqual(before);
    expect(fake.events.length).toBe(events);
  });

  it("configures only what changed", async () => {
    const changed = objects();
    (changed[1] as { data: Record<string, string> }).data = { code: "export default { fetch() {} }" };
    const results = await applyObjects(changed, { kubeconfigPath: fake.kubeconfigPath, namespace: NS });
    expect(results.filter((r) => r.action !== "unchanged").map((r) => `${r.action} ${r.kind}/${r.name}`)).toEqual(["configured ConfigMap/hello-bundle"]);
  });
});

describe("a runtime watching EdgeFunctions", () => {
  let rt: RuntimeHandle;

  beforeAll(async () => {
    rt = await startRuntime({
      site: "edge-1",
      env: { EDGEFN_KUBE_WATCH: NS, KUBECONFIG: fake.kubeconfigPath, EDGEFN_PRIORITY_TIER: "high" },
    });
  });
  afterAll(() => rt?.stop());

  /** Puts the bundle in a ConfigMap named after its digest and the EdgeFunction naming it, as `edgefn deploy --kube` would. */
  function publish(d: Deployment, meta: { annotations?: Record<string, string> } = {}): void {
    const name = d.manifest.metadata.name;
    const configMap = `${name}-${d.bundle.digest.slice("sha256:".length, "sha256:".length + 12)}`;
    fake.put({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: configMap, namespace: NS }, data: { code: d.bundle.code, ...(d.bundle.sourceMap === undefined ? {} : { sourceMap: d.bundle.sourceMap }) } });
    const previous = fake.get("edgefn.dev/v1alpha1", "EdgeFunction", name, NS);
    fake.put({
      apiVersion: "edgefn.dev/v1alpha1",
      kind: "EdgeFunction",
      metadata: { name, namespace: NS, annotations: { "edgefn.dev/bundle": configMap, "edgefn.dev/digest": d.bundle.digest, ...meta.annotations } },
      spec: d.manifest.spec,
      ...(previous?.status === undefined ? {} : { status: previous.status }),
    } as KubeObject);
  }

  const fn = (name: string, body: string, spec: NonNullable<EdgeFunctionInput["spec"]> = { priority: "high" }) =>
    inlineFunction(name, `export default { fetch() { return new Response(${JSON.stringify(body)}); } };`, spec);

  async function get(path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`${rt.url}${path}`);
    return { status: res.status, body: await res.text() };
  }

  type Status = { phase: string; version: number | null; digest: string | null; message: string; site: string; observedGeneration: number; sites: Record<string, { phase: string; version: number | null }> };
  const statusOf = (name: string) => fake.get("edgefn.dev/v1alpha1", "EdgeFunction", name, NS)?.status as Status | undefined;

  it("runs an EdgeFunction placed on its site and tier, and reports it Live on the object", async () => {
    const v1 = await fn("hello", "v1", { priority: "high", placement: { sites: ["edge-*"] } });
    publish(v1);
    await until("hello v1 to serve", async () => ((await get("/hello/")).body === "v1" ? true : undefined));
    const status = await until("status Live", () => (statusOf("hello")?.phase === "Live" ? statusOf("hello") : undefined));
    expect(status).toMatchObject({ phase: "Live", version: 1, digest: v1.bundle.digest, site: "edge-1", observedGeneration: 1, sites: { "edge-1": { phase: "Live", version: 1 } } });
    expect(fake.requests.some((r) => r.method === "PATCH" && r.path.startsWith(`/apis/edgefn.dev/v1alpha1/namespaces/${NS}/edgefunctions/hello/status`) && r.contentType === "application/merge-patch+json")).toBe(true);
  });

  it("switches to a new bundle when the object names it", async () => {
    const v2 = await fn("hello", "v2");
    publish(v2);
    await until("hello v2 to serve", async () => ((await get("/hello/")).body === "v2" ? true : undefined));
    await until("status v2", () => (statusOf("hello")?.version === 2 && statusOf("hello")?.phase === "Live" ? true : undefined));
    expect(statusOf("hello")?.digest).toBe(v2.bundle.digest);
  });

  it("keeps the previous version serving when the new bundle fails to load, and says why", async () => {
    const broken = await inlineFunction("hello", `throw new Error("broken at load"); export default {};`, { priority: "high" });
    publish(broken);
    const status = await until("status Failed", () => (statusOf("hello")?.phase === "Failed" ? statusOf("hello") : undefined));
    expect(status.message).toContain("broken at load");
    expect(status.message).toContain("v2 still serves");
    expect(status).toMatchObject({ version: 2, digest: broken.bundle.digest });
    expect(await get("/hello/")).toEqual({ status: 200, body: "v2" });
  });

  it("waits for a bundle ConfigMap that is not there yet, reporting it missing meanwhile", async () => {
    const d = await fn("late", "late");
    const configMap = `late-${d.bundle.digest.slice(7, 19)}`;
    fake.put({
      apiVersion: "edgefn.dev/v1alpha1",
      kind: "EdgeFunction",
      metadata: { name: "late", namespace: NS, annotations: { "edgefn.dev/bundle": configMap, "edgefn.dev/digest": d.bundle.digest } },
      spec: d.manifest.spec,
    } as KubeObject);
    const status = await until("status Failed", () => (statusOf("late")?.phase === "Failed" ? statusOf("late") : undefined));
    expect(status.message).toBe(`bundle ConfigMap ${NS}/${configMap} not found`);
    fake.put({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: configMap, namespace: NS }, data: { code: d.bundle.code } });
    await until("late to serve", async () => ((await get("/late/")).body === "late" ? true : undefined));
    await until("status Live", () => (statusOf("late")?.phase === "Live" ? true : undefined));
  });

  it("ignores functions for another site or another tier", async () => {
    publish(await fn("elsewhere", "no", { priority: "high", placement: { sites: ["core-*"] } }));
    publish(await fn("lowtier", "no", { priority: "low" }));
    // A function published after them: once it serves, the two before were seen and skipped.
    publish(await fn("marker", "yes"));
    await until("marker to serve", async () => ((await get("/marker/")).body === "yes" ? true : undefined));
    expect((await get("/elsewhere/")).status).toBe(404);
    expect((await get("/lowtier/")).status).toBe(404);
    expect(statusOf("elsewhere")).toBeUndefined();
    expect(statusOf("lowtier")).toBeUndefined();
  });

  it("picks up changes after the watch stream drops (it reconnects from its resourceVersion)", async () => {
    fake.dropWatches();
    publish(await fn("marker", "again"));
    await until("marker v2 to serve", async () => ((await get("/marker/")).body === "again" ? true : undefined));
  });

  it("removes a function when its EdgeFunction is deleted", async () => {
    expect(fake.remove("edgefn.dev/v1alpha1", "EdgeFunction", "hello", NS)).toBe(true);
    await until("hello to be gone", async () => ((await get("/hello/")).status === 404 ? true : undefined));
    expect((await get("/marker/")).body).toBe("again");
  });
});

describe("a runtime whose cluster refuses it", () => {
  it("still starts and serves, and logs why it cannot watch", async () => {
    const kubeconfig = join(useTmpDir(), "kubeconfig");
    await writeFile(kubeconfig, (await readFile(fake.kubeconfigPath, "utf8")).replace(fake.token, "wrong-token"));
    const rt = await startRuntime({ site: "edge-2", env: { EDGEFN_KUBE_WATCH: NS, KUBECONFIG: kubeconfig } });
    onTestFinished(() => rt.stop());
    expect((await fetch(`${rt.url}/healthz`)).status).toBe(200);
    const line = await until("the watch failure in the log", () => rt.logs.find((l) => l.includes("EdgeFunction watch failed")));
    expect(JSON.parse(line)).toMatchObject({ level: "warn", scope: "kube-watch", namespace: NS });
  });
});
