/**
 * Builds function bundles exactly as `edgefn build` does (cli/bundle.ts, cli/project.ts), so
 * tests and the bench deploy what users deploy, without spawning the cli.
 */
import { join } from "node:path";
import { bundleFunction, digestOf } from "../../cli/bundle.ts";
import { loadFunction, MANIFEST_FILE } from "../../cli/project.ts";
import type { Bundle, EdgeFunction } from "../../runtime/manifest.ts";

export { digestOf };

/** Bundles `entry` (a function's index.ts) into one ES module with an external source map. */
export async function buildBundle(entry: string): Promise<Bundle> {
  const { code, sourceMap, digest } = await bundleFunction(entry);
  return { code, sourceMap, digest };
}

/** Reads and validates `<dir>/edgefn.yaml`; the error names the file and every bad field. */
export async function readManifest(dir: string): Promise<EdgeFunction> {
  return (await loadFunction(join(dir, MANIFEST_FILE))).manifest;
}

/** A function folder (edgefn.yaml + its source), read and built. */
export async function buildFunctionDir(dir: string): Promise<{ manifest: EdgeFunction; bundle: Bundle }> {
  const fn = await loadFunction(join(dir, MANIFEST_FILE));
  return { manifest: fn.manifest, bundle: await buildBundle(fn.entry) };
}
