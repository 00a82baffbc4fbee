/** Defaults of `edgefn manifests` and `deploy --kube`, apart so the cli reads them without loading the renderer. */
export const DEFAULT_IMAGE = "ghcr.io/edgefn/runtime:0.1.0";
export const DEFAULT_NAMESPACE = "edgefn";
