/**
 * Kubernetes' QoS rules, as qos.ts implements them. No cluster runs here: the cases follow
 * the kubelet's rules (pkg/apis/core/helper/qos) and Kubernetes' quantity syntax.
 */
import { describe, expect, it } from "vitest";
import { parseQuantity, qosClass, type QosClass } from "./qos.ts";

describe("parseQuantity", () => {
  it.each<[string | number, number]>([
    ["1", 1],
    ["500m", 0.5],
    ["0.5", 0.5],
    ["1Gi", 2 ** 30],
    ["1024Mi", 2 ** 30],
    ["1G", 1e9],
    ["2e3", 2000],
    [3, 3],
  ])("%s is %d", (q, n) => {
    expect(parseQuantity(q)).toBeCloseTo(n);
  });

  it("refuses what is not a quantity", () => {
    expect(() => parseQuantity("1 GB")).toThrow(/not a Kubernetes quantity/);
  });
});

describe("qosClass", () => {
  const c = (requests?: Record<string, string>, limits?: Record<string, string>) => ({
    resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
  });
  const full = { cpu: "1", memory: "1Gi" };

  it.each<[string, Parameters<typeof qosClass>[0], QosClass]>([
    ["no resources anywhere", { containers: [{}] }, "BestEffort"],
    ["only non-compute resources", { containers: [c({ "ephemeral-storage": "1Gi" })] }, "BestEffort"],
    ["requests equal limits", { containers: [c(full, full)] }, "Guaranteed"],
    ["equal in other units", { containers: [c({ cpu: "1000m", memory: "1024Mi" }, full)] }, "Guaranteed"],
    ["limits only: requests default to them", { containers: [c(undefined, full)] }, "Guaranteed"],
    ["requests below limits", { containers: [c({ cpu: "250m", memory: "512Mi" }, full)] }, "Burstable"],
    ["requests only", { containers: [c(full)] }, "Burstable"],
    ["memory limit missing", { containers: [c({ cpu: "1" }, { cpu: "1" })] }, "Burstable"],
    ["one container of two without limits", { containers: [c(full, full), {}] }, "Burstable"],
    ["an init container below its limits", { containers: [c(full, full)], initContainers: [c({ cpu: "100m", memory: "1Gi" }, full)] }, "Burstable"],
    ["pod-level resources decide", { resources: { requests: full, limits: full }, containers: [{}] }, "Guaranteed"],
  ])("%s: %s", (_case, spec, expected) => {
    expect(qosClass(spec)).toBe(expected);
  });
});
