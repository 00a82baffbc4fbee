/**
 * EdgeFunction objects and their bundles. Each bundle is an immutable ConfigMap named after its
 * digest (`edgefn-bundle-<first 12 hex>`), so a new version is a new ConfigMap and a rollback is
 * a git revert; the EdgeFunction points at it with the `edgefn.dev/bundle` and
 * `edgefn.dev/digest` annotations, and the runtime checks the digest when it loads the code.
 */
import { API_VERSION, KIND, type Bundle, type EdgeFunction } from "../../runtime/manifest.ts";
import { ANNOTATION, LABEL, type KubeObject } from "./labels.ts";

/** A ConfigMap holds at most 1 MiB (etcd's object limit less room for metadata). */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, "").slice(0, 12);
}

export function bundleConfigMapName(digest: string): string {
  return `edgefn-bundle-${shortDigest(digest)}`;
}

export function bundleConfigMap(fn: EdgeFunction, bundle: Bundle, site: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: bundleConfigMapName(bundle.digest),
      labels: { [LABEL.partOf]: "edgefn", [LABEL.site]: site, [LABEL.digest]: shortDigest(bundle.digest), "edgefn.dev/function": fn.metadata.name },
      annotations: { [ANNOTATION.digest]: bundle.digest },
    },
    immutable: true,
    data: { code: bundle.code, ...(bundle.sourceMap === undefined ? {} : { sourceMap: bundle.sourceMap }) },
  };
}

export function edgeFunctionObject(fn: EdgeFunction, bundle: Bundle, site: string): KubeObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: fn.metadata.name,
      labels: { ...fn.metadata.labels, [LABEL.site]: site, [LABEL.priority]: fn.spec.priority },
      annotations: { ...fn.metadata.annotations, [ANNOTATION.bundle]: bundleConfigMapName(bundle.digest), [ANNOTATION.digest]: bundle.digest },
    },
    spec: fn.spec,
  };
}
