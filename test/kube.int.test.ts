/**
 * edgefn and Kubernetes, against a FAKE API server (test/helpers/fake-kube.ts: real HTTPS,
 * a self-signed CA, bearer-token auth, server-side apply, watch), with the real
 * @kubernetes/client-node on the other side: `applyObjects` (cli/kube-apply.ts), a real
 * runtime process watching EdgeFunctions (runtime/kube-watch.ts), and end to end: the real
 * `edgefn deploy --kube` bin applying a rendered site, then runtime processes started as its
 * Deployments would start them.
 *
 * Not covered, because the fake does not do it: admission and validation (CRD schemas are not
 * checked), defaulting, RBAC beyond a simulated 403, controllers and the scheduler (the
 * Deployment never runs pods), CRD establishment delays, watch compaction (410 Gone), and
 * SSA's per-field ownership. Those need a real cluster (kind, k3d), which this suite does not
 * have.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { renderManifests } from "../cli/commands/manifests.ts";
import { applyObjects, type ApplyResult } from "../cli/kube-apply.ts";
import { DEFAULT_IMAGE } from "../cli/kube/render.ts";
import { edgeFunctionCrd } from "../runtime/manifest-schema.ts";
import type { EdgeFunctionInput } from "../runtime/manifest.ts";
import { startFakeKube, type FakeKube, type KubeObject } from "./helpers/fake-kube.ts";
import { runCli } from "./helpers/cli.ts";
import { inlineFunction } from "./helpers/inline.ts";
import { REPO, useTmpDir, writeFiles } from "./helpers/tmp.ts";
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
    // Sent as written: client-node's typed serializer would drop the schema's `default`s and
    // x-kubernetes-* keys of a plain object (cli/kube-apply.ts, typed()).
    expect(fake.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "edgefunctions.edgefn.dev")?.spec).toEqual(edgeFunctionCrd().spec);
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

describe("edgefn deploy --kube, end to end", () => {
  // Its own fake API server, so nothing from the tests above is in it. The fake does NOT
  // schedule pods (no controllers, no kubelet): the applied Deployments never run. The test
  // starts the runtime processes itself, with the environment the rendered Deployments give
  // their containers, as the kubelet would.
  const E2E_NS = "edgefn-e2e";
  let kube: FakeKube;
  let fns: string;
  const runtimes: RuntimeHandle[] = [];

  beforeAll(async () => {
    kube = await startFakeKube();
    fns = await mkdtemp(join(tmpdir(), "edgefn-kube-e2e-"));
    const fn = (name: string, spec: string, body: string) => ({
      [`${name}/edgefn.yaml`]: `apiVersion: edgefn.dev/v1alpha1\nkind: EdgeFunction\nmetadata:\n  name: ${name}\nspec:\n${spec}`,
      [`${name}/index.ts`]: `export default { fetch() { return new Response(${JSON.stringify(body)}); } };\n`,
    });
    writeFiles(fns, {
      ...fn("greet", "  priority: high\n  placement:\n    sites: ['edge-*']\n", "hello from high"),
      ...fn("batch", "  priority: low\n", "hello from low"),
      ...fn("faraway", "  priority: high\n  placement:\n    sites: ['core-*']\n", "not here"),
    });
  });
  afterAll(async () => {
    await Promise.all(runtimes.map((rt) => rt.stop()));
    await kube?.close();
    if (fns !== undefined) await rm(fns, { recursive: true, force: true });
  });

  const deployKube = (...extra: string[]) =>
    runCli(["deploy", fns, "--kube", "--site", "edge-1", "--namespace", E2E_NS, ...extra], { cwd: REPO, env: { KUBECONFIG: kube.kubeconfigPath }, timeoutMs: 60_000 });

  type Container = { env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[] };
  const runtimeDeployments = () =>
    kube.list("Deployment").filter((d) => d.metadata.name.startsWith("edgefn-runtime-")) as (KubeObject & { spec: { template: { spec: { serviceAccountName?: string; containers: Container[] } } } })[];

  it("applies exactly what `edgefn manifests` renders for the site, cluster-scoped objects first", async () => {
    const run = await deployKube();
    expect(run.code, run.stderr).toBe(0);
    const rendered = await renderManifests({ dirs: [fns], site: "edge-1", image: DEFAULT_IMAGE, namespace: E2E_NS, trust: "trusted" });
    expect(rendered.skipped.map((s) => s.name)).toEqual(["faraway"]);
    expect(run.stdout).toContain("Skipping faraway: placement.sites [core-*] does not match site edge-1");

    // One line per object, each created; the cluster-scoped ones come first.
    const lines = run.stdout.split("\n").filter((l) => / {2}(created|configured|unchanged)$/.test(l)).map((l) => l.trim().split(/\s+/));
    expect(lines.map(([, action]) => action)).toEqual(rendered.rendered.objects.map(() => "created"));
    expect(lines.slice(0, 7).map(([ref]) => ref!.split("/")[0])).toEqual(["CustomResourceDefinition", ...Array(5).fill("PriorityClass"), "Namespace"]);
    expect(new Set(lines.map(([ref]) => ref))).toEqual(new Set(rendered.rendered.objects.map((o) => `${o.kind}/${o.metadata.name}`)));
    expect(run.stdout).toMatch(/Applied \d+ objects for site edge-1 \(2 functions\): \d+ created, 0 configured, 0 unchanged/);

    // What the fake holds is what was rendered (the namespaced objects in the namespace asked).
    for (const o of rendered.rendered.objects) {
      const stored = kube.get(o.apiVersion, o.kind, o.metadata.name, E2E_NS);
      expect(stored, `${o.kind}/${o.metadata.name}`).toBeDefined();
      const { metadata: _m, status: _s, ...body } = stored!;
      const { metadata: _rm, ...renderedBody } = o;
      expect(body, `${o.kind}/${o.metadata.name}`).toEqual(renderedBody);
    }
    expect(kube.get("rbac.authorization.k8s.io/v1", "RoleBinding", "edgefn-runtime", E2E_NS)).toMatchObject({ subjects: [{ kind: "ServiceAccount", name: "edgefn-runtime", namespace: E2E_NS }] });
    expect(runtimeDeployments().map((d) => d.metadata.name).sort()).toEqual(["edgefn-runtime-high", "edgefn-runtime-low"]);
    for (const d of runtimeDeployments()) expect(d.spec.template.spec.serviceAccountName).toBe("edgefn-runtime");
  });

  it("runtime processes started as the rendered Deployments start them serve their tier's functions and report them Live", async () => {
    // The kubelet would resolve the env: plain values as they are, EDGEFN_KUBE_WATCH from the
    // pod's namespace (fieldRef metadata.namespace). The listen addresses, the control token
    // (a Secret) and EDGEFN_VAN (the router, which the fake does not run either) are the test's.
    const envOf = (d: KubeObject & { spec: { template: { spec: { containers: Container[] } } } }) => {
      const env: Record<string, string> = {};
      for (const e of d.spec.template.spec.containers[0]!.env) {
        if (["EDGEFN_HTTP", "EDGEFN_CONTROL", "EDGEFN_CONTROL_TOKEN", "EDGEFN_VAN", "EDGEFN_STATE_DIR"].includes(e.name)) continue;
        if (e.value !== undefined) env[e.name] = e.value;
        else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") env[e.name] = d.metadata.namespace!;
      }
      return env;
    };
    const byTier = new Map<string, RuntimeHandle>();
    for (const d of runtimeDeployments()) {
      const env = envOf(d);
      expect(env).toMatchObject({ EDGEFN_SITE_NAME: "edge-1", EDGEFN_KUBE_WATCH: E2E_NS });
      const rt = await startRuntime({ site: env["EDGEFN_SITE_NAME"], env: { ...env, KUBECONFIG: kube.kubeconfigPath } });
      runtimes.push(rt);
      byTier.set(env["EDGEFN_PRIORITY_TIER"]!, rt);
    }
    const high = byTier.get("high")!;
    const low = byTier.get("low")!;
    const get = async (rt: RuntimeHandle, path: string) => {
      const res = await fetch(`${rt.url}${path}`);
      return { status: res.status, body: await res.text() };
    };
    await until("greet on the high runtime", async () => ((await get(high, "/greet/")).body === "hello from high" ? true : undefined));
    await until("batch on the low runtime", async () => ((await get(low, "/batch/")).body === "hello from low" ? true : undefined));
    // Each runs its own tier only.
    expect((await get(high, "/batch/")).status).toBe(404);
    expect((await get(low, "/greet/")).status).toBe(404);

    type Status = { phase: string; digest: string; sites: Record<string, { phase: string; version: number }> };
    const statusOf = (name: string) => kube.get("edgefn.dev/v1alpha1", "EdgeFunction", name, E2E_NS)?.status as Status | undefined;
    for (const name of ["greet", "batch"]) {
      const status = await until(`${name} Live`, () => (statusOf(name)?.sites["edge-1"]?.phase === "Live" ? statusOf(name) : undefined));
      const annotations = kube.get("edgefn.dev/v1alpha1", "EdgeFunction", name, E2E_NS)!.metadata.annotations!;
      expect(status).toMatchObject({ phase: "Live", digest: annotations["edgefn.dev/digest"], sites: { "edge-1": { phase: "Live", version: 1 } } });
    }
    expect(kube.get("edgefn.dev/v1alpha1", "EdgeFunction", "faraway", E2E_NS)).toBeUndefined();
  });

  it("reports every object unchanged when deployed again (--json)", async () => {
    const run = await deployKube("--json");
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as { site: string; namespace: string; objects: ApplyResult[]; functions: { name: string }[] };
    expect(result).toMatchObject({ site: "edge-1", namespace: E2E_NS });
    expect(result.functions.map((f) => f.name)).toEqual(["batch", "greet"]);
    expect(result.objects.length).toBeGreaterThan(10);
    expect(result.objects.filter((o) => o.action !== "unchanged")).toEqual([]);
  });

  it("refuses --kube without --site, naming the flag (a usage error)", async () => {
    const run = await runCli(["deploy", fns, "--kube"], { cwd: REPO, env: { KUBECONFIG: kube.kubeconfigPath } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("deploy --kube needs --site <name>");
    expect(run.stderr).toContain("[ERR_USAGE]");
  });

  it("fails with the API's message, naming the object, after printing what went through", async () => {
    kube.forbid("edgefunctions");
    const run = await deployKube();
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/error: Could not apply EdgeFunction (edgefn-e2e\/)?(batch|greet): .*forbidden.* \[ERR_KUBE_FORBIDDEN\]/i);
    expect(run.stdout).toMatch(/ConfigMap\/edgefn-bundle-[0-9a-f]{12} +unchanged\n$/);
    const json = await deployKube("--json");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout.trim().split("\n").at(-1)!).error).toMatchObject({ code: "ERR_KUBE_FORBIDDEN" });
  });
});
