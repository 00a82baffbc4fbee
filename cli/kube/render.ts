/**
 * Renders a site's Kubernetes manifests as plain, kustomize-ready YAML:
 *
 *   <out>/kustomization.yaml           both parts below (`kubectl apply -k <out>`)
 *   <out>/cluster/                      cluster-scoped, needs cluster-admin: the EdgeFunction
 *                                       CRD, the five PriorityClasses, the Namespace
 *   <out>/namespace/                    namespaced (kustomization sets the namespace): runtime
 *                                       pools and their ServiceAccount and Role, router,
 *                                       Services, NetworkPolicies, PDBs, the EdgeFunctions and
 *                                       their bundle ConfigMaps
 *
 * Pure: functions and their bundles in, file contents out. The command does discovery,
 * placement, bundling and writing.
 */
import { Document } from "yaml";
import type { Bundle, EdgeFunction } from "../../runtime/manifest.ts";
import { edgeFunctionCrd } from "../../runtime/manifest-schema.ts";
import { bundleConfigMap, edgeFunctionObject } from "./edge-functions.ts";
import { LABEL, type KubeObject } from "./labels.ts";
import { defaultDenyEgress, functionEgress, type Commented } from "./network-policies.ts";
import { priorityClasses } from "./priority-classes.ts";
import { runtimeRole, runtimeRoleBinding, runtimeServiceAccount } from "./rbac.ts";
import { ingressService, routerDeployment, routerService } from "./router.ts";
import { groupPools, poolDeployment, poolDisruptionBudget } from "./runtime-pools.ts";

export { DEFAULT_IMAGE, DEFAULT_NAMESPACE } from "./defaults.ts";

export interface RenderInput {
  site: string;
  image: string;
  namespace: string;
  trust: "trusted" | "untrusted";
  /** The functions placed at this site, each with its bundle. */
  functions: { manifest: EdgeFunction; bundle: Bundle }[];
}

/** One file: its path under the output folder and the objects in it, in order. */
export interface RenderedFile {
  path: string;
  objects: Commented[];
}

export interface Rendered {
  files: RenderedFile[];
  /** Every object, in file order: what validation looks at. */
  objects: KubeObject[];
}

const HEADER = "Rendered by `edgefn manifests`; edit the edgefn.yaml files and render again.";

export function renderSite(input: RenderInput): Rendered {
  const { site, image } = input;
  const manifests = input.functions.map((f) => f.manifest);
  const pools = groupPools(manifests);
  const poolOf = new Map(pools.flatMap((p) => p.functions.map((fn) => [fn.metadata.name, p] as const)));
  const one = (object: KubeObject, comment?: string): Commented[] => [{ object, ...(comment === undefined ? {} : { comment }) }];

  const cluster: RenderedFile[] = [
    { path: "cluster/namespace.yaml", objects: one({ apiVersion: "v1", kind: "Namespace", metadata: { name: input.namespace, labels: { [LABEL.partOf]: "edgefn" } } }) },
    { path: "cluster/edgefunction-crd.yaml", objects: one(edgeFunctionCrd() as KubeObject) },
    { path: "cluster/priority-classes.yaml", objects: priorityClasses().map((object) => ({ object })) },
  ];
  const namespaced: RenderedFile[] = [
    {
      path: "namespace/rbac.yaml",
      objects: [
        ...one(runtimeServiceAccount(site), "The runtime pods run as this account: the in-cluster watcher (EDGEFN_KUBE_WATCH) reads\nthe namespace's EdgeFunctions and bundle ConfigMaps and writes EdgeFunction status."),
        ...one(runtimeRole(site)),
        ...one(runtimeRoleBinding(site, input.namespace)),
      ],
    },
    ...pools.map((pool) => {
      const pdb = poolDisruptionBudget(pool, site);
      const names = pool.functions.map((f) => f.metadata.name).join(", ");
      const placement =
        pool.requires.length === 0 ? "" : `\nNodes need ${pool.requires.map((c) => `edgefn.dev/${c}=true`).join(", ")} (placement.requires).`;
      return {
        path: `namespace/${pool.name}.yaml`,
        objects: [...one(poolDeployment(pool, input), `Runs: ${names}.${placement}`), ...(pdb ? one(pdb) : [])],
      };
    }),
    { path: "namespace/router.yaml", objects: [...one(routerDeployment(site, image)), ...one(routerService(site))] },
    { path: "namespace/ingress.yaml", objects: one(ingressService(site), "The only exposed Service: HTTP to every runtime pod.") },
    {
      path: "namespace/network-policies.yaml",
      objects: [defaultDenyEgress(site), ...manifests.flatMap((fn) => functionEgress(fn, poolOf.get(fn.metadata.name)!, site) ?? [])],
    },
    ...input.functions.map(({ manifest, bundle }) => ({
      path: `namespace/functions/${manifest.metadata.name}.yaml`,
      // The bundle first: applied in order (`deploy --kube`), the watcher finds it when the EdgeFunction names it.
      objects: [...one(bundleConfigMap(manifest, bundle, site)), ...one(edgeFunctionObject(manifest, bundle, site))],
    })),
  ];
  const kustomization = (resources: string[], extra: Record<string, unknown> = {}): Commented[] =>
    one({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", ...extra, resources } as unknown as KubeObject);
  const files: RenderedFile[] = [
    { path: "kustomization.yaml", objects: kustomization(["cluster", "namespace"]) },
    { path: "cluster/kustomization.yaml", objects: kustomization(cluster.map((f) => f.path.slice("cluster/".length))) },
    ...cluster,
    { path: "namespace/kustomization.yaml", objects: kustomization(namespaced.map((f) => f.path.slice("namespace/".length)), { namespace: input.namespace }) },
    ...namespaced,
  ];
  return {
    files,
    objects: files.filter((f) => !f.path.endsWith("kustomization.yaml")).flatMap((f) => f.objects.map((o) => o.object)),
  };
}

/** A file's YAML text: one document per object, each with its comment above it. */
export function fileText(file: RenderedFile): string {
  return file.objects
    .map(({ object, comment, notes }, i) => {
      const doc = new Document(object);
      for (const note of notes ?? []) {
        const node = doc.getIn(note.path, true) as { commentBefore?: string | null } | undefined;
        if (node === undefined || node === null) throw new Error(`no node at ${note.path.join(".")} of ${object.kind}/${object.metadata.name}`);
        node.commentBefore = note.comment.split("\n").map((l) => ` ${l}`).join("\n");
      }
      const lines = [...(i === 0 ? [HEADER] : []), ...(comment === undefined ? [] : comment.split("\n"))];
      if (lines.length > 0) doc.commentBefore = lines.map((l) => ` ${l}`).join("\n");
      // lineWidth 0: never fold long strings (bundles), so the files diff line by line.
      return doc.toString({ lineWidth: 0, blockQuote: "literal" });
    })
    .join("---\n");
}
