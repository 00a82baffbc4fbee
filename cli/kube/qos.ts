/**
 * Kubernetes' QoS classes, computed as the kubelet does (pkg/apis/core/helper/qos): only cpu and
 * memory count; no requests and no limits anywhere is BestEffort; every container with cpu and
 * memory limits, and requests (when set) equal to them, is Guaranteed; anything else is
 * Burstable. Init containers count too; pod-level `resources` (1.32+) decide when present.
 */

export type QosClass = "Guaranteed" | "Burstable" | "BestEffort";

interface Resources {
  requests?: Record<string, string | number>;
  limits?: Record<string, string | number>;
}
interface PodSpecLike {
  containers?: { resources?: Resources }[];
  initContainers?: { resources?: Resources }[];
  resources?: Resources;
}

const COMPUTE = ["cpu", "memory"] as const;

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A resource.Quantity (`500m`, `1Gi`, `1.5`, `2e3`) as a number; throws on anything else. */
export function parseQuantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)$/.exec(q);
  if (!m) throw new Error(`"${q}" is not a Kubernetes quantity`);
  const base = Number(m[1]);
  return m[2] !== undefined ? base * 10 ** Number(m[2].slice(1)) : base * SUFFIX[m[3] ?? ""]!;
}

function isSet(map: Record<string, string | number> | undefined, name: string): boolean {
  return map?.[name] !== undefined;
}

/** The QoS class Kubernetes gives a pod with this spec. */
export function qosClass(spec: PodSpecLike): QosClass {
  const all = spec.resources !== undefined ? [spec.resources] : [...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((c) => c.resources ?? {});
  const anySet = all.some((r) => COMPUTE.some((n) => isSet(r.requests, n) || isSet(r.limits, n)));
  if (!anySet) return "BestEffort";
  const guaranteed = all.every((r) =>
    COMPUTE.every((n) => {
      if (!isSet(r.limits, n)) return false;
      // An unset request defaults to the limit.
      return !isSet(r.requests, n) || parseQuantity(r.requests![n]!) === parseQuantity(r.limits![n]!);
    }),
  );
  return guaranteed ? "Guaranteed" : "Burstable";
}
