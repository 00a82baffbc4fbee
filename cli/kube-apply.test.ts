/**
 * applyObjects against test/helpers/fake-kube.ts: a FAKE API server (HTTPS, token auth, SSA
 * simplified; no admission, validation or RBAC beyond forbid()). What a real cluster adds is
 * not tested here.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeKube, type FakeKube } from "../test/helpers/fake-kube.ts";
import { useTmpDir } from "../test/helpers/tmp.ts";
import { applyObjects, KubeApplyError } from "./kube-apply.ts";

const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg" }, data: { a: "1" } };
const priorityClass = { apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass", metadata: { name: "edgefn-low" }, value: 1000, preemptionPolicy: "Never" };

let fake: FakeKube;
beforeAll(async () => {
  fake = await startFakeKube({ namespace: "ctx-ns" });
});
afterAll(() => fake.close());

async function failure(promise: Promise<unknown>): Promise<KubeApplyError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KubeApplyError);
  return error as KubeApplyError;
}

describe("applyObjects", () => {
  it("applies cluster-scoped objects first and puts namespaced ones in the context's namespace", async () => {
    const results = await applyObjects([configMap, priorityClass], { kubeconfigPath: fake.kubeconfigPath });
    expect(results.map((r) => [r.kind, r.namespace, r.action])).toEqual([
      ["PriorityClass", undefined, "created"],
      ["ConfigMap", "ctx-ns", "created"],
    ]);
    expect(fake.get("v1", "ConfigMap", "cfg", "ctx-ns")?.data).toEqual({ a: "1" });
  });

  it("refuses an object that names another namespace than the one asked", async () => {
    const error = await failure(applyObjects([{ ...configMap, metadata: { name: "cfg", namespace: "a" } }], { kubeconfigPath: fake.kubeconfigPath, namespace: "b" }));
    expect(error.code).toBe("ERR_KUBE_APPLY");
    expect(error.message).toBe('ConfigMap a/cfg is in namespace "a", not "b" as asked.');
  });

  it("names an unknown context", async () => {
    const error = await failure(applyObjects([configMap], { kubeconfigPath: fake.kubeconfigPath, context: "prod" }));
    expect(error.code).toBe("ERR_KUBECONFIG");
    expect(error.message).toBe('The kubeconfig has no context "prod".');
    expect(error.hint).toBe("Its contexts: fake.");
  });

  it("says which kind the cluster does not serve", async () => {
    const error = await failure(applyObjects([{ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }], { kubeconfigPath: fake.kubeconfigPath }));
    expect(error.code).toBe("ERR_KUBE_APPLY");
    expect(error.message).toBe("Could not apply Widget w: the cluster does not serve example.com/v1 Widget");
  });

  it("reports a wrong token as 401 with the server named", async () => {
    const dir = useTmpDir();
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, (await readFile(fake.kubeconfigPath, "utf8")).replace(fake.token, "not-the-token"));
    const error = await failure(applyObjects([configMap], { kubeconfigPath: kubeconfig }));
    expect(error.code).toBe("ERR_KUBE_UNAUTHORIZED");
    expect(error.message).toBe(`The API server at ${fake.url} refused the credentials (401) while applying ConfigMap cfg.`);
  });

  it("reports RBAC's refusal in the API's words, naming the object, after what went through", async () => {
    const other = await startFakeKube();
    try {
      other.forbid("configmaps");
      const error = await failure(applyObjects([configMap, priorityClass], { kubeconfigPath: other.kubeconfigPath, namespace: "edge" }));
      expect(error.code).toBe("ERR_KUBE_FORBIDDEN");
      expect(error.message).toBe(
        'Could not apply ConfigMap cfg: configmaps "cfg" is forbidden: User "system:serviceaccount:default:edgefn-deployer" cannot patch resource "configmaps" in API group "" in the namespace "edge"',
      );
      expect(error.applied.map((r) => r.name)).toEqual(["edgefn-low"]);
    } finally {
      await other.close();
    }
  });

  it("reports an unreachable server with its address and the reason", async () => {
    const gone = await startFakeKube();
    const dir = useTmpDir();
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, await readFile(gone.kubeconfigPath, "utf8"));
    await gone.close();
    const error = await failure(applyObjects([configMap], { kubeconfigPath: kubeconfig }));
    expect(error.code).toBe("ERR_KUBE_UNREACHABLE");
    expect(error.message).toMatch(new RegExp(`^Could not reach the Kubernetes API server at ${gone.url.replace(/\./g, "\\.")} to apply ConfigMap cfg: ECONNREFUSED`));
  });
});
