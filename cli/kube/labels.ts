/**
 * Label keys and values shared by every rendered object. Pods are told apart by
 * `edgefn.dev/pool` (one per runtime Deployment); the ingress Service and the egress policy
 * select every runtime pod by `app.kubernetes.io/component: runtime`.
 */
export const LABEL = {
  name: "app.kubernetes.io/name",
  component: "app.kubernetes.io/component",
  partOf: "app.kubernetes.io/part-of",
  site: "edgefn.dev/site",
  priority: "edgefn.dev/priority",
  pool: "edgefn.dev/pool",
  digest: "edgefn.dev/digest",
} as const;

export const ANNOTATION = {
  bundle: "edgefn.dev/bundle",
  digest: "edgefn.dev/digest",
} as const;

/** Node label of a capability from placement.requires: `gpu` -> `edgefn.dev/gpu` (value "true"). */
export function capabilityLabel(capability: string): string {
  return `edgefn.dev/${capability}`;
}

export const RUNTIME_SELECTOR = { [LABEL.name]: "edgefn", [LABEL.component]: "runtime" } as const;
export const ROUTER_SELECTOR = { [LABEL.name]: "edgefn", [LABEL.component]: "router" } as const;

/** Ports the runtime and router listen on inside their pods. */
export const PORTS = { http: 8787, control: 8788, amqp: 5672 } as const;

/** A plain Kubernetes object as rendered: enough typing to read kind and name. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}
