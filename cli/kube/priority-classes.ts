/**
 * The priority table of DESIGN.md ("Priorities") as data: each tier's PriorityClass (name,
 * value, preemptionPolicy) and the QoS class its runtime pods must have. The renderer, the
 * validator and the tests all read this one table.
 */
import { PRIORITIES, type Priority } from "../../runtime/manifest.ts";
import type { QosClass } from "./qos.ts";

export interface Tier {
  priority: Priority;
  priorityClassName: string;
  value: number;
  preemptionPolicy: "PreemptLowerPriority" | "Never";
  qos: QosClass;
  description: string;
}

export const TIERS: Record<Priority, Tier> = {
  critical: tier("critical", 1_000_000, "PreemptLowerPriority", "Guaranteed", "never shed"),
  high: tier("high", 100_000, "PreemptLowerPriority", "Guaranteed", "shed last"),
  normal: tier("normal", 10_000, "PreemptLowerPriority", "Burstable", "shed before high"),
  low: tier("low", 1_000, "Never", "Burstable", "shed early"),
  "best-effort": tier("best-effort", 0, "Never", "BestEffort", "shed first"),
};

/** Kubernetes refuses user PriorityClasses above one billion (higher values are for system- classes). */
export const MAX_USER_PRIORITY = 1_000_000_000;

function tier(priority: Priority, value: number, preemptionPolicy: Tier["preemptionPolicy"], qos: QosClass, shed: string): Tier {
  return {
    priority,
    priorityClassName: `edgefn-${priority}`,
    value,
    preemptionPolicy,
    qos,
    description: `edgefn ${priority} tier: runtime pods of ${priority} functions (${qos} QoS; ${shed} under load).`,
  };
}

/** The five scheduling.k8s.io/v1 PriorityClasses, most important first. */
export function priorityClasses() {
  return PRIORITIES.map((p) => {
    const t = TIERS[p];
    return {
      apiVersion: "scheduling.k8s.io/v1",
      kind: "PriorityClass",
      metadata: { name: t.priorityClassName, labels: { "app.kubernetes.io/part-of": "edgefn", "edgefn.dev/priority": p } },
      value: t.value,
      preemptionPolicy: t.preemptionPolicy,
      globalDefault: false,
      description: t.description,
    };
  });
}
