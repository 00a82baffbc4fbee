/**
 * Builds the globals script (globals/index.ts and what it imports) into one classic script
 * whose completion value is the IsolateApi. Built once per process, then compiled once per
 * isolate with V8 cached data. The build is cached on disk by the hash of its sources, so a
 * runtime (re)start does not wait for esbuild.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "esbuild";

const GLOBALS_DIR = fileURLToPath(new URL("./globals/", import.meta.url));
const ENTRY = join(GLOBALS_DIR, "index.ts");
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CACHE_DIR = join(ROOT, "node_modules", ".cache", "edgefn");
/** Packages bundled into the script: their versions are part of the cache key. */
const BUNDLED = ["esbuild", "whatwg-url", "web-streams-polyfill", "webidl-conversions"];
const shim = (name: string) => join(GLOBALS_DIR, "shims", name);

/**
 * Everything in the script is evaluated in every context, so whatwg-url's heavy
 * dependencies are swapped for small stand-ins (see each shim for why).
 */
const SHIMS: Plugin = {
  name: "edgefn-globals-shims",
  setup(b) {
    // UTS-46 mapping table (~300 KB heap): ASCII in JS, the rest through the host.
    b.onResolve({ filter: /^tr46$/ }, () => ({ path: shim("tr46.ts") }));
    // Legacy multi-byte encodings: the URL API only ever percent-encodes UTF-8.
    b.onResolve({ filter: /^@exodus\/bytes\/encoding\.js$/ }, () => ({ path: shim("empty.ts") }));
    b.onResolve({ filter: /^@exodus\/bytes\/whatwg\.js$/ }, () => ({ path: shim("exodus-whatwg.ts") }));
    // Builds a TextEncoder at load time, before the platform has installed one.
    b.onResolve({ filter: /^\.\/encoding$/ }, (args) =>
      /[\\/]whatwg-url[\\/]lib$/.test(args.resolveDir) ? { path: shim("whatwg-url-encoding.ts") } : undefined,
    );
  },
};

let pending: Promise<string> | undefined;

export function globalsScript(): Promise<string> {
  pending ??= cachedBuild();
  return pending;
}

/**
 * Bundles an entry that default-exports an object into a script evaluating to that object.
 * Wrapped in a function so `__edgefnGlobals` is a local, not a global user code could reach.
 */
export async function bundleGlobals(entry: { file: string } | { contents: string; resolveDir: string }): Promise<string> {
  const { build } = await import("esbuild");
  const result = await build({
    ...("file" in entry
      ? { entryPoints: [entry.file] }
      : { stdin: { contents: entry.contents, resolveDir: entry.resolveDir, loader: "ts" as const, sourcefile: "entry.ts" } }),
    bundle: true,
    write: false,
    format: "iife",
    globalName: "__edgefnGlobals",
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "es2023",
    minify: true,
    legalComments: "none",
    logLevel: "silent",
    plugins: [SHIMS],
  });
  return `(function(){${result.outputFiles[0]!.text};return __edgefnGlobals.default;})()`;
}

async function cachedBuild(): Promise<string> {
  const file = join(CACHE_DIR, `globals-${await sourceKey()}.js`);
  try {
    return await readFile(file, "utf8");
  } catch {
    // Not built yet for these sources.
  }
  const code = await bundleGlobals({ file: ENTRY });
  try {
    await mkdir(CACHE_DIR, { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, code);
    await rename(temporary, file);
  } catch {
    // A read-only install still works; it just builds at every start.
  }
  return code;
}

/** Hash of every source file of the script and the versions of what it bundles. */
async function sourceKey(): Promise<string> {
  const hash = createHash("sha256");
  const files = (await readdir(GLOBALS_DIR, { recursive: true })).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts")).sort();
  for (const name of files) {
    hash.update(name).update(await readFile(join(GLOBALS_DIR, name)));
  }
  hash.update(await readFile(fileURLToPath(new URL("./wire.ts", import.meta.url))));
  for (const pkg of BUNDLED) {
    const manifest = await readFile(join(ROOT, "node_modules", pkg, "package.json"), "utf8").catch(() => "");
    hash.update(pkg).update((JSON.parse(manifest || "{}") as { version?: string }).version ?? "none");
  }
  return hash.digest("hex").slice(0, 16);
}
