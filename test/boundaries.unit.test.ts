/**
 * The dependency direction of STYLE.md §2, checked on every import: a cheap guard against
 * edges nobody meant to add (as hono's validate-exports.ts does for its exports).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Files another folder may import: the leaves and the public entry points. */
const SHARED = new Set([
  "runtime/manifest.ts", "runtime/manifest-schema.ts", "runtime/network-api.ts", "runtime/gitops-api.ts", "runtime/errors.ts", "runtime/atomic-file.ts", "runtime/sdk.ts", "router/protocol.ts", "router/pki.ts", "router/rhea-dispositions.ts", "runtime/index.ts", "router/index.ts",
]);
/**
 * Allowed despite FORBIDDEN: the runtime speaks the VAN's wire contract (a leaf), and a site
 * process runs the router (its public API) and issues the network's certificates (pki.ts).
 */
const ALLOWED = new Set(["runtime -> router/protocol.ts", "runtime -> router/index.ts", "runtime -> router/pki.ts", "runtime -> router/rhea-dispositions.ts"]);
const FORBIDDEN: Record<string, string[]> = {
  runtime: ["cli", "router", "functions", "test"],
  router: ["runtime", "cli", "functions", "test"],
  cli: ["functions", "test"],
  functions: ["cli", "router", "test"],
};

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (/\.ts$/.test(name)) yield path;
  }
}

it("keeps the dependency direction: leaves and entry points only across folders", () => {
  const problems: string[] = [];
  for (const top of Object.keys(FORBIDDEN)) {
    let dir: string;
    try {
      dir = join(ROOT, top);
      statSync(dir);
    } catch {
      continue;
    }
    for (const file of files(dir)) {
      const source = readFileSync(file, "utf8");
      for (const match of source.matchAll(/^\s*(?:import|export)[^'"]*?from\s+["'](\.{1,2}\/[^"']+)["']/gm)) {
        const target = relative(ROOT, resolve(dirname(file), match[1]!));
        const targetTop = target.split("/")[0]!;
        const from = relative(ROOT, file);
        if (targetTop === top || ALLOWED.has(`${top} -> ${target}`)) continue;
        // Tests may use the shared test helpers; shipped code may not.
        if (targetTop === "test" && /(\.test\.ts|\/_test-[^/]*\.ts)$/.test(from)) continue;
        if (FORBIDDEN[top]!.includes(targetTop)) problems.push(`${from} imports ${target} (${top} must not import ${targetTop})`);
        else if (!SHARED.has(target)) problems.push(`${from} imports ${target}, which is not a leaf or entry point`);
      }
    }
  }
  expect(problems).toEqual([]);
});
