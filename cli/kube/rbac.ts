/**
 * What the runtime pods need from the API server for the in-cluster watcher
 * (runtime/kube-watch.ts, EDGEFN_KUBE_WATCH): a ServiceAccount `edgefn-runtime` that every
 * runtime pod runs as, a Role in the namespace (read and watch EdgeFunctions, write their
 * status subresource, read the bundle ConfigMaps) and the RoleBinding between them. Nothing
 * cluster-wide: the watcher reads its own namespace only.
 */
import { API_VERSION } from "../../runtime/manifest.ts";
import { LABEL, type KubeObject } from "./labels.ts";

export const RUNTIME_SERVICE_ACCOUNT = "edgefn-runtime";

const GROUP = API_VERSION.split("/")[0]!;

function labels(site: string): Record<string, string> {
  return { [LABEL.name]: "edgefn", [LABEL.component]: "runtime", [LABEL.partOf]: "edgefn", [LABEL.site]: site };
}

export function runtimeServiceAccount(site: string): KubeObject {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: RUNTIME_SERVICE_ACCOUNT, labels: labels(site) } };
}

export function runtimeRole(site: string): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: RUNTIME_SERVICE_ACCOUNT, labels: labels(site) },
    rules: [
      { apiGroups: [GROUP], resources: ["edgefunctions"], verbs: ["get", "list", "watch"] },
      { apiGroups: [GROUP], resources: ["edgefunctions/status"], verbs: ["patch", "update"] },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] },
    ],
  };
}

/**
 * The subject names its namespace: a RoleBinding's subjects are not namespaced objects, and
 * kustomize's namespace transformer does not rewrite every subject, so it is rendered as
 * the --namespace given.
 */
export function runtimeRoleBinding(site: string, namespace: string): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: RUNTIME_SERVICE_ACCOUNT, labels: labels(site) },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: RUNTIME_SERVICE_ACCOUNT },
    subjects: [{ kind: "ServiceAccount", name: RUNTIME_SERVICE_ACCOUNT, namespace }],
  };
}
