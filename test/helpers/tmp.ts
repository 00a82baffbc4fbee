/** Per-test temp dirs, removed when the test finishes (pass or fail). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { onTestFinished } from "vitest";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A fresh directory. `inRepo: true` puts it under `<repo>/.edgefn/tmp/` (git-ignored), where
 * bare imports (`hono`, `zod`) and `import type ... from "edgefn"` resolve from the repo.
 */
export function useTmpDir(opts: { inRepo?: boolean; prefix?: string } = {}): string {
  const parent = opts.inRepo ? path.join(REPO, ".edgefn", "tmp") : os.tmpdir();
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(path.join(parent, opts.prefix ?? "edgefn-test-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `files` (relative path -> content) under `dir`, creating folders. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

/** A minimal valid edgefn.yaml for `name`, plus extra `spec` lines. */
export function manifestYaml(name: string, spec = "  source: ./index.ts\n"): string {
  return `apiVersion: edgefn.dev/v1alpha1\nkind: EdgeFunction\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
}
