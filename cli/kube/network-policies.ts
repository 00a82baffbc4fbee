/**
 * Egress for runtime pods: denied by default, except DNS (kube-dns, UDP and TCP 53) and the
 * site's router; then, per function, what its spec.egress allows, on the pool it runs in.
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
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function defaultDenyEgress(site: string): Commented {
  return {
    comment:
      "Runtime pods may reach DNS and the site's router, nothing else, unless a function's\n" +
      "spec.egress opens more (edgefn-egress-<function> policies, which add to this one).",
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
