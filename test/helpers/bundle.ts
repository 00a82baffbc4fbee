/**
 * Builds a function bundle with esbuild directly, as `edgefn build` does, so tests and the
 * bench do not depend on the cli: one ES module, neutral platform (no Node builtins).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { build } from "esbuild";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { EdgeFunctionSchema } from "../../runtime/manifest.ts";
import type { Bundle, Deployment, EdgeFunction } from "../../runtime/manifest.ts";

/** Bundles `entry` (a function's index.ts) into one ES module with an external source map. */
export async function buildBundle(entry: string): Promise<Bundle> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    outfile: "index.js", // names the output files; nothing is written
    format: "esm",
    platform: "neutral",
    // Neutral has no default main fields or conditions; resolve packages as Workers tools do.
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    target: "es2023",
    sourcemap: "external",
    logLevel: "silent",
  });
  const code = result.outputFiles.find((f) => f.path.endsWith(".js"))?.text;
  const sourceMap = result.outputFiles.find((f) => f.path.endsWith(".js.map"))?.text;
  if (code === undefined) throw new Error(`esbuild produced no JavaScript for ${entry}`);
  return { code, sourceMap, digest: digestOf(code) };
}

/** `sha256:<hex>` of the code's UTF-8 bytes, as the control API checks it. */
export function digestOf(code: string): string {
  return `sha256:${createHash("sha256").update(code, "utf8").digest("hex")}`;
}

/** Reads and validates `<dir>/edgefn.yaml`; the error names the file and every bad field. */
export async function readManifest(dir: string): Promise<EdgeFunction> {
  const file = resolve(dir, "edgefn.yaml");
  const parsed = EdgeFunctionSchema.safeParse(parseYaml(await readFile(file, "utf8")));
  if (!parsed.success) {
    throw new Error(`${file} is not a valid EdgeFunction:\n${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

/** A function folder (edgefn.yaml + its source), read and built. */
export async function buildFunctionDir(dir: string): Promise<Deployment> {
  const manifest = await readManifest(dir);
  const bundle = await buildBundle(resolve(dir, manifest.spec.source));
  return { manifest, bundle };
}
