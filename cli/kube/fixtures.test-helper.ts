/** Functions and fake bundles for the cli/kube tests: pure data, no esbuild. */
import { EdgeFunctionSchema, type Bundle, type EdgeFunction, type Priority } from "../../runtime/manifest.ts";
import { digestOf } from "../bundle.ts";
import { renderSite, type Rendered } from "./render.ts";

export function edgeFunction(name: string, priority: Priority, spec: Record<string, unknown> = {}): EdgeFunction {
  return EdgeFunctionSchema.parse({ apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name }, spec: { priority, ...spec } });
}

export function fakeBundle(name: string): Bundle {
  const code = `export default { fetch() { return new Response(${JSON.stringify(name)}); } };\n`;
  return { code, digest: digestOf(code) };
}

/** One function per tier, the best-effort one on gpu nodes, telemetry with egress. */
export function renderFive(): Rendered {
  const fns = [
    edgeFunction("alarm", "critical"),
    edgeFunction("checkout", "high"),
    edgeFunction("catalog", "normal"),
    edgeFunction("telemetry", "low", { egress: ["10.20.0.5:4318", "collector.example.com:443"] }),
    edgeFunction("inference", "best-effort", { placement: { requires: ["gpu"] } }),
  ];
  return renderSite({
    site: "edge-1",
    image: "ghcr.io/edgefn/runtime:0.1.0",
    namespace: "edgefn",
    trust: "trusted",
    functions: fns.map((manifest) => ({ manifest, bundle: fakeBundle(manifest.metadata.name) })),
  });
}
