import { createHash } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it, onTestFinished } from "vitest";
import { startFakeKube, type FakeKube, type KubeObject } from "../test/helpers/fake-kube.ts";
import { globToRegExp, manifestOf, notPlacedHere, startKubeWatch } from "./kube-watch.ts";
import { silentLogger } from "./log.ts";
import { EdgeFunctionSchema, type Deployment, type EdgeFunction, type EdgeFunctionInput } from "./manifest.ts";
import type { Site } from "./site.ts";

const fn = (spec: EdgeFunctionInput["spec"] = {}) =>
  EdgeFunctionSchema.parse({ apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name: "hello" }, spec });

describe("notPlacedHere", () => {
  const here = { site: "edge-1", trust: "trusted" as const, tier: undefined };

  it("places a function with default placement everywhere, on every tier", () => {
    expect(notPlacedHere(fn(), here)).toBeUndefined();
  });

  it("matches site globs", () => {
    expect(notPlacedHere(fn({ placement: { sites: ["edge-*"] } }), here)).toBeUndefined();
    expect(notPlacedHere(fn({ placement: { sites: ["edge-?"] } }), here)).toBeUndefined();
    expect(notPlacedHere(fn({ placement: { sites: ["core-*", "edge-2"] } }), here)).toBe("placement.sites [core-*, edge-2] does not match site edge-1");
  });

  it("keeps trusted-only functions off untrusted sites", () => {
    expect(notPlacedHere(fn({ placement: { trust: "trusted" } }), { ...here, trust: "untrusted" })).toBe("placement.trust is trusted and site edge-1 is untrusted");
  });

  it("runs only its own tier when it has one", () => {
    expect(notPlacedHere(fn({ priority: "high" }), { ...here, tier: "high" })).toBeUndefined();
    expect(notPlacedHere(fn({ priority: "low" }), { ...here, tier: "high" })).toBe("priority low is not this runtime's tier (high)");
  });

  it("does not filter on placement.requires (that is node affinity)", () => {
    expect(notPlacedHere(fn({ placement: { requires: ["gpu"] } }), here)).toBeUndefined();
  });
});

describe("globToRegExp", () => {
  it("treats every character but * and ? literally", () => {
    expect(globToRegExp("a.b*").test("a.bc")).toBe(true);
    expect(globToRegExp("a.b*").test("axbc")).toBe(false);
  });
});

describe("manifestOf", () => {
  it("keeps name, labels, edgefn.dev/ annotations and spec; drops what the API server adds", () => {
    const parsed = manifestOf({
      apiVersion: "edgefn.dev/v1alpha1",
      kind: "EdgeFunction",
      metadata: {
        name: "hello",
        namespace: "edge",
        uid: "u",
        resourceVersion: "7",
        generation: 2,
        labels: { app: "hello" },
        annotations: { "edgefn.dev/digest": "sha256:00", "kubectl.kubernetes.io/last-applied-configuration": "{}" },
      },
      spec: { priority: "high" },
      status: { phase: "Live" },
    } as Parameters<typeof manifestOf>[0]);
    expect(parsed.success).toBe(true);
    expect(parsed.data?.metadata).toEqual({ name: "hello", labels: { app: "hello" }, annotations: { "edgefn.dev/digest": "sha256:00" } });
    expect(parsed.data?.spec.priority).toBe("high");
  });

  it("reports a bad spec with its path", () => {
    const parsed = manifestOf({ apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name: "hello" }, spec: { priority: "urgent" } } as Parameters<typeof manifestOf>[0]);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(["spec", "priority"]);
  });
});

describe("startKubeWatch (against test/helpers/fake-kube.ts, a fake API server)", () => {
  /** A Site that records what it is asked: the real one is covered by test/kube.int.test.ts. */
  function stubSite(initial: Record<string, EdgeFunction> = {}) {
    const fns = new Map(Object.entries(initial).map(([name, manifest]) => [name, { manifest, version: 1, digest: "sha256:" + "0".repeat(64) }]));
    const site = {
      removed: [] as string[],
      deploy: async (d: Deployment) => {
        const version = (fns.get(d.manifest.metadata.name)?.version ?? 0) + 1;
        fns.set(d.manifest.metadata.name, { manifest: d.manifest, version, digest: d.bundle.digest });
        return { name: d.manifest.metadata.name, version, digest: d.bundle.digest };
      },
      remove: async (name: string) => {
        fns.delete(name);
        site.removed.push(name);
      },
      get: (name: string) => {
        const fn = fns.get(name);
        if (fn === undefined) throw new Error(`no ${name}`);
        return { name, version: fn.version, digest: fn.digest };
      },
      list: () => [...fns.keys()].map((name) => site.get(name)),
    };
    return { site, manifestOf: (name: string) => fns.get(name)?.manifest };
  }

  async function until(what: string, probe: () => boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function start(fake: FakeKube, stub: ReturnType<typeof stubSite>) {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(fake.kubeconfigPath);
    const watch = await startKubeWatch({
      namespace: "edge",
      site: stub.site as unknown as Site,
      siteName: "edge-1",
      trust: () => "trusted",
      tier: undefined,
      logger: silentLogger(),
      deployedManifest: stub.manifestOf,
      kubeConfig,
      retryMs: 50,
    });
    onTestFinished(() => watch.close());
    return watch;
  }

  const code = "export default { fetch() { return new Response('ok'); } };";
  const digest = `sha256:${createHash("sha256").update(code).digest("hex")}`;
  function publish(fake: FakeKube, name: string, spec: EdgeFunctionInput["spec"] = {}) {
    fake.put({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${name}-bundle`, namespace: "edge" }, data: { code } });
    fake.put({
      apiVersion: "edgefn.dev/v1alpha1",
      kind: "EdgeFunction",
      metadata: { name, namespace: "edge", annotations: { "edgefn.dev/bundle": `${name}-bundle`, "edgefn.dev/digest": digest } },
      spec,
    } as KubeObject);
  }
  const statusOf = (fake: FakeKube, name: string) => fake.get("edgefn.dev/v1alpha1", "EdgeFunction", name, "edge")?.status as { phase?: string; sites?: Record<string, unknown> } | undefined;

  it("removes, on its first list, what it deployed before whose object is gone; leaves control-API deploys alone", async () => {
    const fake = await startFakeKube({ namespace: "edge" });
    onTestFinished(() => fake.close());
    const fromKube = { ...fn(), metadata: { name: "old", annotations: { "edgefn.dev/bundle": "old-bundle" } } };
    const stub = stubSite({ old: fromKube, manual: { ...fn(), metadata: { name: "manual" } } });
    await start(fake, stub);
    await until("old to be removed", () => stub.site.removed.includes("old"));
    expect(stub.site.list().map((f) => f.name)).toEqual(["manual"]);
  });

  it("withdraws its report and stops running a function placed elsewhere", async () => {
    const fake = await startFakeKube({ namespace: "edge" });
    onTestFinished(() => fake.close());
    const stub = stubSite();
    const watch = await start(fake, stub);
    publish(fake, "moving");
    await until("Live", () => statusOf(fake, "moving")?.phase === "Live");
    expect(Object.keys(statusOf(fake, "moving")?.sites ?? {})).toEqual(["edge-1"]);
    publish(fake, "moving", { placement: { sites: ["core-*"] } });
    await until("removed", () => stub.site.removed.includes("moving"));
    await until("report withdrawn", () => Object.keys(statusOf(fake, "moving")?.sites ?? {}).length === 0);
    await watch.idle();
  });

  it("keeps deploying after the watch stream drops, even when its status writes are refused", async () => {
    const fake = await startFakeKube({ namespace: "edge" });
    onTestFinished(() => fake.close());
    const stub = stubSite();
    await start(fake, stub);
    await until("the first list", () => fake.requests.some((r) => r.path.includes("watch=true")));
    fake.forbid("edgefunctions"); // writes only (status): reading and watching go on
    fake.dropWatches();
    publish(fake, "after-drop");
    await until("deployed after the drop", () => stub.site.list().some((f) => f.name === "after-drop"));
    expect(statusOf(fake, "after-drop")).toBeUndefined();
  });
});
