/**
 * Runtime pools: one Deployment per priority tier in use (`edgefn-runtime-<tier>`), with
 * required node affinity on `edgefn.dev/<capability>: "true"` for each of its functions'
 * placement.requires. When functions of one tier need different capabilities the tier splits:
 * those without any stay in `edgefn-runtime-<tier>`, the others go to
 * `edgefn-runtime-<tier>-<capabilities joined by ->` (a hash when that is too long).
 * Each pool's resources give its tier's QoS class; critical and high pools get two replicas and
 * a PodDisruptionBudget.
 */
import { createHash } from "node:crypto";
import { PRIORITIES, type EdgeFunction, type Priority } from "../../runtime/manifest.ts";
import { LABEL, PORTS, RUNTIME_SELECTOR, capabilityLabel, type KubeObject } from "./labels.ts";
import { TIERS } from "./priority-classes.ts";
import { RUNTIME_SERVICE_ACCOUNT } from "./rbac.ts";

export interface Pool {
  name: string;
  priority: Priority;
  /** Capabilities every node of the pool must offer, sorted. */
  requires: string[];
  functions: EdgeFunction[];
}

export interface PoolOptions {
  site: string;
  image: string;
  trust: "trusted" | "untrusted";
}

/** The Secret (key `token`) holding the runtime's control API token; created by the operator, never rendered. */
export const CONTROL_SECRET = "edgefn-control";

const DISRUPTION_BUDGET: ReadonlySet<Priority> = new Set(["critical", "high"]);

/** Functions grouped into pools, in tier order, then the plain pool before capability pools. */
export function groupPools(functions: EdgeFunction[]): Pool[] {
  const requiresOf = (fn: EdgeFunction) => [...new Set(fn.spec.placement.requires)].sort();
  // A tier whose functions all need the same capabilities keeps the plain tier name.
  const variants = new Map<Priority, Set<string>>();
  for (const fn of functions) {
    const set = variants.get(fn.spec.priority) ?? new Set<string>();
    set.add(requiresOf(fn).join(","));
    variants.set(fn.spec.priority, set);
  }
  const pools = new Map<string, Pool>();
  for (const fn of functions) {
    const requires = requiresOf(fn);
    const split = variants.get(fn.spec.priority)!.size > 1;
    const name = split ? poolName(fn.spec.priority, requires) : poolName(fn.spec.priority, []);
    const pool = pools.get(name) ?? { name, priority: fn.spec.priority, requires, functions: [] };
    pool.functions.push(fn);
    pools.set(name, pool);
  }
  const rank = (p: Pool) => PRIORITIES.indexOf(p.priority);
  return [...pools.values()].sort((a, b) => rank(a) - rank(b) || a.requires.length - b.requires.length || a.name.localeCompare(b.name));
}

/** `edgefn-runtime-high`, `edgefn-runtime-high-gpu`; a hash when the capabilities would not fit a label. */
export function poolName(priority: Priority, requires: string[]): string {
  const base = `edgefn-runtime-${priority}`;
  if (requires.length === 0) return base;
  const named = `${base}-${requires.join("-")}`;
  if (named.length <= 63) return named;
  return `${base}-${createHash("sha256").update(requires.join(",")).digest("hex").slice(0, 10)}`;
}

/** MiB for a pool: a base for the runtime process plus each function's isolate heap, in steps of 64. */
function poolMemoryMi(pool: Pool): number {
  const total = 256 + pool.functions.reduce((sum, fn) => sum + fn.spec.limits.memoryMb, 0);
  return Math.ceil(total / 64) * 64;
}

/** Container resources giving the tier's QoS class (see qos.ts for the rules). */
export function poolResources(pool: Pool): Record<string, Record<string, string>> | undefined {
  const memory = poolMemoryMi(pool);
  switch (TIERS[pool.priority].qos) {
    case "Guaranteed":
      return { requests: { cpu: "1", memory: `${memory}Mi` }, limits: { cpu: "1", memory: `${memory}Mi` } };
    case "Burstable":
      return { requests: { cpu: "250m", memory: `${memory / 2}Mi` }, limits: { cpu: "1", memory: `${memory}Mi` } };
    case "BestEffort":
      return undefined;
  }
}

export function poolLabels(pool: Pool, site: string): Record<string, string> {
  return { ...RUNTIME_SELECTOR, [LABEL.pool]: pool.name, [LABEL.priority]: pool.priority, [LABEL.site]: site, [LABEL.partOf]: "edgefn" };
}

export function poolSelector(pool: Pool): Record<string, string> {
  return { ...RUNTIME_SELECTOR, [LABEL.pool]: pool.name };
}

/** Security settings every edgefn container runs with: non-root, read-only root, no privileges. */
export const CONTAINER_SECURITY = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
} as const;

export const POD_SECURITY = {
  runAsNonRoot: true,
  // The uid of the `edgefn` user in runtime/Dockerfile.
  runAsUser: 10001,
  runAsGroup: 10001,
  seccompProfile: { type: "RuntimeDefault" },
} as const;

export function poolDeployment(pool: Pool, opts: PoolOptions): KubeObject {
  const resources = poolResources(pool);
  const affinity =
    pool.requires.length === 0
      ? undefined
      : {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: pool.requires.map((cap) => ({ key: capabilityLabel(cap), operator: "In", values: ["true"] })) }],
            },
          },
        };
  const env = [
    // The in-cluster EdgeFunction watcher (runtime/kube-watch.ts) runs the EdgeFunctions of the
    // pod's own namespace placed on this site and of this tier, as the edgefn-runtime
    // ServiceAccount (rbac.ts).
    { name: "EDGEFN_SITE_NAME", value: opts.site },
    { name: "EDGEFN_KUBE_WATCH", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } } },
    { name: "EDGEFN_PRIORITY_TIER", value: pool.priority },
    { name: "EDGEFN_POOL_REQUIRES", value: pool.requires.join(",") },
    { name: "EDGEFN_SITE_TRUST", value: opts.trust },
    { name: "EDGEFN_HTTP", value: `0.0.0.0:${PORTS.http}` },
    { name: "EDGEFN_CONTROL", value: `0.0.0.0:${PORTS.control}` },
    { name: "EDGEFN_CONTROL_TOKEN", valueFrom: { secretKeyRef: { name: CONTROL_SECRET, key: "token" } } },
    { name: "EDGEFN_VAN", value: `edgefn-router:${PORTS.amqp}` },
    { name: "EDGEFN_STATE_DIR", value: "/tmp/state" },
  ];
  const replicas = DISRUPTION_BUDGET.has(pool.priority) ? 2 : 1;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: pool.name, labels: poolLabels(pool, opts.site) },
    spec: {
      replicas,
      revisionHistoryLimit: 3,
      selector: { matchLabels: poolSelector(pool) },
      template: {
        metadata: { labels: poolLabels(pool, opts.site) },
        spec: {
          priorityClassName: TIERS[pool.priority].priorityClassName,
          serviceAccountName: RUNTIME_SERVICE_ACCOUNT,
          securityContext: POD_SECURITY,
          ...(affinity === undefined ? {} : { affinity }),
          containers: [
            {
              name: "runtime",
              image: opts.image,
              env,
              ports: [
                { name: "http", containerPort: PORTS.http, protocol: "TCP" },
                { name: "control", containerPort: PORTS.control, protocol: "TCP" },
              ],
              readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 5, failureThreshold: 3 },
              ...(resources === undefined ? {} : { resources }),
              securityContext: CONTAINER_SECURITY,
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: { sizeLimit: "256Mi" } }],
        },
      },
    },
  };
}

/** A budget for the critical and high pools: voluntary disruptions keep one pod serving. */
export function poolDisruptionBudget(pool: Pool, site: string): KubeObject | undefined {
  if (!DISRUPTION_BUDGET.has(pool.priority)) return undefined;
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: pool.name, labels: poolLabels(pool, site) },
    spec: { minAvailable: 1, selector: { matchLabels: poolSelector(pool) } },
  };
}
