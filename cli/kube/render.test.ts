/**
 * renderSite: the objects a site gets, checked for what DESIGN.md ("Kubernetes", "Priorities")
 * asks of them. No cluster runs here: this is validation against the real API schemas only
 * (kubernetes-models, and the EdgeFunction CRD through ajv, as manifest-schema.test.ts does).
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { PRIORITIES } from "../../runtime/manifest.ts";
import { edgeFunctionCrd } from "../../runtime/manifest-schema.ts";
import { edgeFunction, fakeBundle, renderFive } from "./fixtures.test-helper.ts";
import type { KubeObject } from "./labels.ts";
import { qosClass } from "./qos.ts";
import { fileText, renderSite } from "./render.ts";
import { groupPools } from "./runtime-pools.ts";
import { TIERS } from "./priority-classes.ts";
import { formatProblems, validateObjects } from "./validate.ts";

const rendered = renderFive();
const ofKind = (kind: string) => rendered.objects.filter((o) => o.kind === kind) as (KubeObject & Record<string, any>)[];
const named = (kind: string, name: string) => ofKind(kind).find((o) => o.metadata.name === name)!;

describe("renderSite", () => {
  it("renders a set that passes every check", () => {
    expect(formatProblems(validateObjects(rendered.objects))).toBe("");
  });

  it("puts cluster-scoped objects in cluster/ and the rest in namespace/", () => {
    const where = (dir: string) =>
      rendered.files.filter((f) => f.path.startsWith(dir) && !f.path.endsWith("kustomization.yaml")).flatMap((f) => f.objects.map((o) => o.object.kind));
    expect(new Set(where("cluster/"))).toEqual(new Set(["Namespace", "CustomResourceDefinition", "PriorityClass"]));
    expect(new Set(where("namespace/"))).toEqual(new Set(["ServiceAccount", "Role", "RoleBinding", "Deployment", "PodDisruptionBudget", "Service", "NetworkPolicy", "EdgeFunction", "ConfigMap"]));
  });

  it("renders the five PriorityClasses of the table exactly", () => {
    expect(ofKind("PriorityClass").map((p) => [p.metadata.name, p.value, p.preemptionPolicy])).toEqual([
      ["edgefn-critical", 1_000_000, "PreemptLowerPriority"],
      ["edgefn-high", 100_000, "PreemptLowerPriority"],
      ["edgefn-normal", 10_000, "PreemptLowerPriority"],
      ["edgefn-low", 1_000, "Never"],
      ["edgefn-best-effort", 0, "Never"],
    ]);
  });

  it.each(PRIORITIES)("gives the %s pool its tier's QoS class and PriorityClass", (priority) => {
    const d = named("Deployment", `edgefn-runtime-${priority}`);
    expect(qosClass(d.spec.template.spec)).toBe(TIERS[priority].qos);
    expect(d.spec.template.spec.priorityClassName).toBe(`edgefn-${priority}`);
    const env = Object.fromEntries(d.spec.template.spec.containers[0].env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({ EDGEFN_SITE_NAME: "edge-1", EDGEFN_PRIORITY_TIER: priority });
  });

  it("runs every container non-root, read-only, without privileges, with /tmp and a readiness probe", () => {
    for (const d of ofKind("Deployment")) {
      for (const c of d.spec.template.spec.containers) {
        expect(c.securityContext, d.metadata.name).toEqual({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        expect(c.volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
        expect(c.readinessProbe).toBeDefined();
      }
    }
    expect(named("Deployment", "edgefn-runtime-high").spec.template.spec.containers[0].readinessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
  });

  it("gives PodDisruptionBudgets to the critical and high pools only", () => {
    expect(ofKind("PodDisruptionBudget").map((p) => p.metadata.name)).toEqual(["edgefn-runtime-critical", "edgefn-runtime-high"]);
  });

  it("turns placement.requires into required node affinity on edgefn.dev/<capability>", () => {
    const d = named("Deployment", "edgefn-runtime-best-effort");
    expect(d.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: "edgefn.dev/gpu", operator: "In", values: ["true"] }] },
    ]);
    expect(named("Deployment", "edgefn-runtime-high").spec.template.spec.affinity).toBeUndefined();
  });

  it("splits a tier whose functions need different capabilities", () => {
    const pools = groupPools([
      edgeFunction("a", "high"),
      edgeFunction("b", "high", { placement: { requires: ["gpu"] } }),
      edgeFunction("c", "high", { placement: { requires: ["tpu", "gpu"] } }),
    ]);
    expect(pools.map((p) => [p.name, p.requires, p.functions.map((f) => f.metadata.name)])).toEqual([
      ["edgefn-runtime-high", [], ["a"]],
      ["edgefn-runtime-high-gpu", ["gpu"], ["b"]],
      ["edgefn-runtime-high-gpu-tpu", ["gpu", "tpu"], ["c"]],
    ]);
  });

  it("exposes only the ingress Service, in front of every runtime pod; the router's is ClusterIP", () => {
    expect(ofKind("Service").map((s) => [s.metadata.name, s.spec.type])).toEqual([
      ["edgefn-router", "ClusterIP"],
      ["edgefn-ingress", "LoadBalancer"],
    ]);
    expect(named("Service", "edgefn-ingress").spec.selector).toEqual({ "app.kubernetes.io/name": "edgefn", "app.kubernetes.io/component": "runtime" });
  });

  it("runs the runtime pods as edgefn-runtime, watching their own namespace, with a Role for the watcher", () => {
    for (const d of ofKind("Deployment").filter((o) => o.metadata.name.startsWith("edgefn-runtime-"))) {
      expect(d.spec.template.spec.serviceAccountName, d.metadata.name).toBe("edgefn-runtime");
      expect(d.spec.template.spec.containers[0].env, d.metadata.name).toContainEqual({
        name: "EDGEFN_KUBE_WATCH",
        valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } },
      });
    }
    expect(named("Deployment", "edgefn-router").spec.template.spec.serviceAccountName).toBeUndefined();
    expect(named("ServiceAccount", "edgefn-runtime")).toBeDefined();
    expect(named("Role", "edgefn-runtime").rules).toEqual([
      { apiGroups: ["edgefn.dev"], resources: ["edgefunctions"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["edgefn.dev"], resources: ["edgefunctions/status"], verbs: ["patch", "update"] },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] },
    ]);
    expect(named("RoleBinding", "edgefn-runtime")).toMatchObject({
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "edgefn-runtime" },
      subjects: [{ kind: "ServiceAccount", name: "edgefn-runtime", namespace: "edgefn" }],
    });
  });

  it("denies runtime egress but DNS, the router and the API server; opens spec.egress on the function's pool", () => {
    const deny = named("NetworkPolicy", "edgefn-runtime-egress");
    expect(deny.spec.policyTypes).toEqual(["Egress"]);
    expect(deny.spec.egress[0].ports).toEqual([{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }]);
    // The API server's address is unknown at render time: its ports, to any address, with a note on how to narrow it.
    expect(deny.spec.egress[2]).toEqual({ ports: [{ protocol: "TCP", port: 443 }, { protocol: "TCP", port: 6443 }] });
    const policies = fileText(rendered.files.find((f) => f.path === "namespace/network-policies.yaml")!);
    expect(policies).toMatch(/# The Kubernetes API server, for the in-cluster watcher[\s\S]*ipBlock: \{cidr: <address>\/32\}[\s\S]*\n {4}- ports:\n {8}- protocol: TCP\n {10}port: 443/);
    const telemetry = named("NetworkPolicy", "edgefn-egress-telemetry");
    expect(telemetry.spec.podSelector.matchLabels["edgefn.dev/pool"]).toBe("edgefn-runtime-low");
    expect(telemetry.spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: "10.20.0.5/32" } }], ports: [{ protocol: "TCP", port: 4318 }] },
      { to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [{ protocol: "TCP", port: 443 }] },
    ]);
    const file = rendered.files.find((f) => f.path === "namespace/network-policies.yaml")!;
    expect(fileText(file)).toContain("# DNS names cannot be expressed in a NetworkPolicy (it matches IP addresses only): collector.example.com:443.");
  });

  it("renders each EdgeFunction with its bundle in an immutable ConfigMap named after the digest", () => {
    const bundle = fakeBundle("alarm");
    const hex = bundle.digest.slice("sha256:".length, "sha256:".length + 12);
    const ef = named("EdgeFunction", "alarm");
    expect(ef.metadata).toEqual({
      name: "alarm",
      labels: { "edgefn.dev/site": "edge-1", "edgefn.dev/priority": "critical" },
      annotations: { "edgefn.dev/bundle": `edgefn-bundle-${hex}`, "edgefn.dev/digest": bundle.digest },
    });
    expect(ef.spec).toEqual(edgeFunction("alarm", "critical").spec);
    const cm = named("ConfigMap", `edgefn-bundle-${hex}`);
    expect(cm).toMatchObject({ immutable: true, data: { code: bundle.code }, metadata: { labels: { "edgefn.dev/digest": hex } } });
  });

  it("renders EdgeFunctions that the generated CRD's schema accepts", () => {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    ajv.addKeyword("x-kubernetes-preserve-unknown-fields");
    const validate = ajv.compile(edgeFunctionCrd().spec.versions[0]!.schema.openAPIV3Schema);
    expect(ofKind("EdgeFunction")).toHaveLength(5);
    for (const ef of ofKind("EdgeFunction")) expect(validate(ef), ajv.errorsText(validate.errors)).toBe(true);
  });

  it("writes YAML that parses back to the same objects, and kustomizations listing every file", () => {
    for (const file of rendered.files) {
      const docs = parseAllDocuments(fileText(file));
      expect(Array.isArray(docs) && docs.map((d) => d.toJS()), file.path).toEqual(file.objects.map((o) => o.object));
    }
    const kustomization = rendered.files.find((f) => f.path === "namespace/kustomization.yaml")!.objects[0]!.object as Record<string, any>;
    expect(kustomization.namespace).toBe("edgefn");
    expect(kustomization.resources).toEqual(rendered.files.filter((f) => f.path.startsWith("namespace/") && f !== rendered.files.find((x) => x.path === "namespace/kustomization.yaml")).map((f) => f.path.slice("namespace/".length)));
  });

  it("renders the site's trust into the runtime's env", () => {
    const r = renderSite({ site: "edge-9", image: "img:1", namespace: "ns", trust: "untrusted", functions: [{ manifest: edgeFunction("a", "low"), bundle: fakeBundle("a") }] });
    const env = (r.objects.find((o) => o.kind === "Deployment") as any).spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: "EDGEFN_SITE_TRUST", value: "untrusted" });
    expect(formatProblems(validateObjects(r.objects))).toBe("");
  });
});
