/**
 * Builds the globals script (globals/index.ts and what it imports) into one classic script
 * whose completion value is the IsolateApi. Built once per process, then compiled once per
 * isolate with V8 cached data.
 */
import { build, type Plugin } from "esbuild";
import { fileURLToPath } from "node:url";

const ENTRY = fileURLToPath(new URL("./globals/index.ts", import.meta.url));
const shim = (name: string) => fileURLToPath(new URL(`./globals/shims/${name}`, import.meta.url));

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
  pending ??= buildGlobalsScript();
  return pending;
}

async function buildGlobalsScript(): Promise<string> {
  const result = await build({
    entryPoints: [ENTRY],
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
  const code = result.outputFiles[0]!.text;
  // Wrapped so `__edgefnGlobals` is a local, not a global user code could reach.
  return `(function(){${code};return __edgefnGlobals.default;})()`;
}
