/**
 * validateObjects: every check has a case that a hand-broken object fails, with a message
 * naming the object and the field. No cluster runs here: this is validation against the real
 * API schemas (kubernetes-models, the EdgeFunction CRD) only.
 */
import { describe, expect, it } from "vitest";
import type { KubeObject } from "./labels.ts";
import { renderFive } from "./fixtures.test-helper.ts";
import { formatProblems, validateObjects } from "./validate.ts";

const rendered = renderFive();

/** A deep copy of the first rendered object of `kind` (named `name`, if given). */
function pick(kind: string, name?: string): KubeObject & Record<string, any> {
  const found = rendered.objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}/${name}`);
  return structuredClone(found) as KubeObject & Record<string, any>;
}

function problemsOf(obj: KubeObject): string {
  return formatProblems(validateObjects([obj]));
}

describe("validateObjects", () => {
  it("accepts the rendered set", () => {
    expect(formatProblems(validateObjects(rendered.objects))).toBe("");
  });

  it("runs the model's schema validation (kubernetes-models validate())", () => {
    const d = pick("Deployment", "edgefn-runtime-high");
    d.spec.replicas = "two";
    expect(problemsOf(d)).toContain("Deployment/edgefn-runtime-high: spec.replicas: must be integer");
  });

  it("finds unknown fields the schemas allow", () => {
    const d = pick("Deployment", "edgefn-runtime-high");
    d.spec.template.spec.containers[0].imagePullPolicyy = "Always";
    d.spec.strateggy = {};
    expect(problemsOf(d)).toBe(
      [
        'Deployment/edgefn-runtime-high: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy"',
        'Deployment/edgefn-runtime-high: spec.strateggy: unknown field "strateggy"',
      ].join("\n"),
    );
  });

  it("checks the runtime's RBAC objects against the rbac.authorization.k8s.io/v1 models", () => {
    const role = pick("Role", "edgefn-runtime");
    role.rules[0].verb = ["get"];
    delete role.rules[0].verbs;
    const binding = pick("RoleBinding", "edgefn-runtime");
    delete binding.roleRef.kind;
    expect(formatProblems(validateObjects([role, binding]))).toBe(
      [
        "Role/edgefn-runtime: rules[0]: must have required property verbs",
        'Role/edgefn-runtime: rules[0].verb: unknown field "verb"',
        "RoleBinding/edgefn-runtime: roleRef: must have required property kind",
      ].join("\n"),
    );
  });

  it("refuses names that are not DNS-1123", () => {
    const cm = pick("ConfigMap");
    cm.metadata.name = "Edgefn_Bundle";
    expect(problemsOf(cm)).toMatch(/^ConfigMap\/Edgefn_Bundle: metadata.name: "Edgefn_Bundle" is not a DNS-1123 subdomain/);
    const svc = pick("Service", "edgefn-ingress");
    svc.metadata.name = "1-ingress";
    expect(problemsOf(svc)).toContain("Service/1-ingress: metadata.name: \"1-ingress\": a Service name must be a DNS-1035 label");
  });

  it("refuses bad label values", () => {
    const cm = pick("ConfigMap");
    cm.metadata.labels!["edgefn.dev/digest"] = "sha256:abc";
    expect(problemsOf(cm)).toContain('metadata.labels.edgefn.dev/digest: label value "sha256:abc" must be');
  });

  it("needs a Deployment's selector to match its pod template", () => {
    const d = pick("Deployment", "edgefn-runtime-normal");
    d.spec.template.metadata.labels["edgefn.dev/pool"] = "other";
    expect(problemsOf(d)).toContain(
      "Deployment/edgefn-runtime-normal: spec.selector.matchLabels.edgefn.dev/pool: selects edgefn.dev/pool=edgefn-runtime-normal, but the pod template has edgefn.dev/pool=other",
    );
  });

  it("keeps PriorityClass values at or below one billion and off the system- prefix", () => {
    const pc = pick("PriorityClass", "edgefn-critical");
    pc.value = 2_000_000_000;
    pc.metadata.name = "system-edgefn";
    expect(problemsOf(pc)).toBe(
      [
        "PriorityClass/system-edgefn: value: 2000000000 is above 1000000000, which only system- classes may use",
        'PriorityClass/system-edgefn: metadata.name: the "system-" prefix is reserved for Kubernetes\' own classes',
      ].join("\n"),
    );
  });

  it.each([
    ["edgefn-runtime-critical", (d: any) => (d.spec.template.spec.containers[0].resources.requests.cpu = "500m"), "QoS class is Burstable, but the critical tier needs Guaranteed"],
    ["edgefn-runtime-normal", (d: any) => delete d.spec.template.spec.containers[0].resources, "QoS class is BestEffort, but the normal tier needs Burstable"],
    ["edgefn-runtime-best-effort", (d: any) => (d.spec.template.spec.containers[0].resources = { limits: { cpu: "1", memory: "1Gi" } }), "QoS class is Guaranteed, but the best-effort tier needs BestEffort"],
  ])("checks the QoS class of %s against its tier", (name, breakIt, message) => {
    const d = pick("Deployment", name);
    breakIt(d);
    expect(problemsOf(d)).toBe(`Deployment/${name}: spec.template.spec.containers[*].resources: ${message}`);
  });

  it("checks a pool's priorityClassName against its tier", () => {
    const d = pick("Deployment", "edgefn-runtime-low");
    d.spec.template.spec.priorityClassName = "edgefn-high";
    expect(problemsOf(d)).toBe('Deployment/edgefn-runtime-low: spec.template.spec.priorityClassName: is "edgefn-high", but the low tier needs edgefn-low');
  });

  it("validates EdgeFunctions against the CRD's openAPIV3Schema, and unknown fields with zod", () => {
    const ef = pick("EdgeFunction", "alarm");
    ef.spec.priority = "urgent";
    ef.spec.limits.cpuMs = 0;
    expect(problemsOf(ef)).toContain("EdgeFunction/alarm: spec.priority: must be equal to one of the allowed values (CRD schema)");
    expect(problemsOf(ef)).toContain("EdgeFunction/alarm: spec.limits.cpuMs: must be >= 1 (CRD schema)");
    const typo = pick("EdgeFunction", "alarm");
    typo.spec.limitz = {};
    expect(problemsOf(typo)).toContain('EdgeFunction/alarm: spec: unknown field "limitz"');
  });

  it("refuses a bundle ConfigMap over 1 MiB", () => {
    const cm = pick("ConfigMap");
    cm.data.code = "x".repeat(1024 * 1024);
    expect(problemsOf(cm)).toMatch(/^ConfigMap\/edgefn-bundle-[0-9a-f]{12}: data: holds \d+ bytes; a ConfigMap holds at most 1048576/);
  });

  it("refuses kinds it has no schema for", () => {
    expect(problemsOf({ apiVersion: "v1", kind: "Pod", metadata: { name: "p" } })).toMatch(/^Pod\/p: kind: no schema for kind Pod/);
  });
});
