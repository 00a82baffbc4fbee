/**
 * Egress for runtime pods: denied by default, except DNS (kube-dns, UDP and TCP 53), the
 * site's router and the Kubernetes API server (TCP 443 and 6443 to any address: its address is
 * not known at render time; the rendered comment says how to narrow it); then, per function, what its spec.egress allows, on the pool it runs in.
 * NetworkPolicies match IP addresses only: a literal IP becomes an ipBlock (/32); a DNS name
 * cannot be expressed, so its port is opened to any address and the runtime's own egress
 * allowlist (spec.egress, enforced on every fetch) keeps the function to the named hosts. The
 * rendered policy says so in a comment.
 */
import type { EdgeFunction } from "../../runtime/manifest.ts";
import { LABEL, PORTS, ROUTER_SELECTOR, RUNTIME_SELECTOR, type KubeObject } from "./labels.ts";
import { poolSelector, type Pool } from "./runtime-pools.ts";

/** An object and the comment written above it in the YAML. */
export interface Commented {
  object: KubeObject;
  comment?: string;
  /** Comments above nodes inside the object: the node's path (`["spec", "egress", 2]`) and text. */
  notes?: { path: (string | number)[]; comment: string }[];
}

/** The API server's ports: 443 (the `kubernetes` Service), 6443 (its usual endpoints). */
export const KUBE_API_PORTS = [443, 6443] as const;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function defaultDenyEgress(site: string): Commented {
  return {
    comment:
      "Runtime pods may reach DNS, the site's router and the Kubernetes API server, nothing else,\n" +
      "unless a function's spec.egress opens more (edgefn-egress-<function> policies, which add to this one).",
    notes: [
      {
        path: ["spec", "egress", 2],
        comment:
          "The Kubernetes API server, for the in-cluster watcher (EDGEFN_KUBE_WATCH): it reads EdgeFunctions\n" +
          "and bundle ConfigMaps and writes EdgeFunction status. Its address is not known when this is\n" +
          "rendered, so TCP 443 (the `kubernetes` Service) and 6443 (the API server's usual port: many CNIs\n" +
          "match policies after the Service address is translated to it) are open to ANY address.\n" +
          "To narrow it, add `to: [{ipBlock: {cidr: <address>/32}}]` here with the API server's address(es) from\n" +
          "`kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes` and keep their port.",
      },
    ],
    object: {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "edgefn-runtime-egress", labels: { [LABEL.partOf]: "edgefn", [LABEL.site]: site } },
      spec: {
        podSelector: { matchLabels: { ...RUNTIME_SELECTOR } },
        policyTypes: ["Egress"],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
              },
            ],
            ports: [
              { protocol: "UDP", port: 53 },
              { protocol: "TCP", port: 53 },
            ],
          },
          { to: [{ podSelector: { matchLabels: { ...ROUTER_SELECTOR } } }], ports: [{ protocol: "TCP", port: PORTS.amqp }] },
          // The Kubernetes API server, at an address unknown here: see the note above.
          { ports: KUBE_API_PORTS.map((port) => ({ protocol: "TCP", port })) },
        ],
      },
    },
  };
}

/** The egress a function's spec.egress allows, on its pool's pods; undefined when it allows none. */
export function functionEgress(fn: EdgeFunction, pool: Pool, site: string): Commented | undefined {
  const entries = fn.spec.egress;
  if (entries.length === 0) return undefined;
  const names: string[] = [];
  const rules = entries.map((entry) => {
    const at = entry.lastIndexOf(":");
    const host = entry.slice(0, at);
    const port = Number(entry.slice(at + 1));
    if (IPV4.test(host)) return { to: [{ ipBlock: { cidr: `${host}/32` } }], ports: [{ protocol: "TCP", port }] };
    names.push(entry);
    return { to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [{ protocol: "TCP", port }] };
  });
  const comment = [
    `spec.egress of ${fn.metadata.name}, on the pods of ${pool.name}.`,
    ...(names.length === 0
      ? []
      : [
          `DNS names cannot be expressed in a NetworkPolicy (it matches IP addresses only): ${names.join(", ")}.`,
          "Their ports are open to any address here; the runtime's egress allowlist keeps fetch() to those hosts.",
        ]),
  ].join("\n");
  return {
    comment,
    object: {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: `edgefn-egress-${fn.metadata.name}`, labels: { [LABEL.partOf]: "edgefn", [LABEL.site]: site, [LABEL.pool]: pool.name } },
      spec: { podSelector: { matchLabels: poolSelector(pool) }, policyTypes: ["Egress"], egress: rules },
    },
  };
}
