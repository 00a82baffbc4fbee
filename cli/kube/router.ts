/**
 * The site's router (router/main.ts from the same image) and the two Services: `edgefn-router`
 * (ClusterIP, AMQP, for the runtimes) and `edgefn-ingress`, the only exposed one, a
 * LoadBalancer in front of every runtime pod's HTTP port.
 */
import { LABEL, PORTS, ROUTER_SELECTOR, RUNTIME_SELECTOR, type KubeObject } from "./labels.ts";
import { CONTAINER_SECURITY, POD_SECURITY } from "./runtime-pools.ts";
import { TIERS } from "./priority-classes.ts";

export function routerDeployment(site: string, image: string): KubeObject {
  const labels = { ...ROUTER_SELECTOR, [LABEL.site]: site, [LABEL.partOf]: "edgefn" };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "edgefn-router", labels },
    spec: {
      replicas: 1,
      revisionHistoryLimit: 3,
      selector: { matchLabels: { ...ROUTER_SELECTOR } },
      template: {
        metadata: { labels },
        spec: {
          // Every tier's calls across sites go through it: it is scheduled as critical.
          priorityClassName: TIERS.critical.priorityClassName,
          securityContext: POD_SECURITY,
          containers: [
            {
              name: "router",
              image,
              command: ["node", "router/main.ts"],
              env: [
                { name: "EDGEFN_ROUTER_LISTEN", value: `0.0.0.0:${PORTS.amqp}` },
                { name: "EDGEFN_ROUTER_ID", value: site },
              ],
              ports: [{ name: "amqp", containerPort: PORTS.amqp, protocol: "TCP" }],
              readinessProbe: { tcpSocket: { port: "amqp" }, periodSeconds: 5 },
              resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "250m", memory: "256Mi" } },
              securityContext: CONTAINER_SECURITY,
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
        },
      },
    },
  };
}

export function routerService(site: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "edgefn-router", labels: { ...ROUTER_SELECTOR, [LABEL.site]: site, [LABEL.partOf]: "edgefn" } },
    spec: {
      type: "ClusterIP",
      selector: { ...ROUTER_SELECTOR },
      ports: [{ name: "amqp", port: PORTS.amqp, targetPort: "amqp", protocol: "TCP" }],
    },
  };
}

export function ingressService(site: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "edgefn-ingress", labels: { ...RUNTIME_SELECTOR, [LABEL.site]: site, [LABEL.partOf]: "edgefn" } },
    spec: {
      type: "LoadBalancer",
      selector: { ...RUNTIME_SELECTOR },
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
    },
  };
}
