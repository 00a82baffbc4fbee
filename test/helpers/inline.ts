/**
 * Builds a deployment from TypeScript source written inline in a test, so each test shows
 * the exact function it runs.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EdgeFunctionSchema, type EdgeFunctionInput } from "../../runtime/manifest.ts";
import { buildBundle } from "./bundle.ts";
import type { Deployment } from "./runtime.ts";

type SpecInput = NonNullable<EdgeFunctionInput["spec"]>;

export async function inlineFunction(name: string, source: string, spec: SpecInput = {}): Promise<Deployment> {
  const dir = await mkdtemp(join(tmpdir(), `edgefn-${name}-`));
  try {
    await writeFile(join(dir, "index.ts"), source);
    const bundle = await buildBundle(join(dir, "index.ts"));
    const manifest = EdgeFunctionSchema.parse({ apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name }, spec });
    return { manifest, bundle };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
