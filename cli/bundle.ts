/**
 * Bundles a function with esbuild for the isolate: one ESM file, platform neutral (no Node),
 * Workers-style package conditions, an external source map with sources inlined, and the
 * digest the runtime checks (`sha256:` + hex sha256 of the code's UTF-8 bytes).
 */
import { createHash } from "node:crypto";
import { builtinModules } from "node:module";
import path from "node:path";
import * as esbuild from "esbuild";
import { DeploymentSchema, type Bundle, type Deployment } from "../runtime/manifest.ts";
import { CliError } from "./errors.ts";
import { displayPath, type FunctionProject } from "./project.ts";

export interface BundleResult extends Bundle {
  sourceMap: string;
  /** Absolute paths of every file that went into the bundle: what `dev` watches. */
  inputs: string[];
  /** esbuild warnings, formatted as `file:line:col: text`. */
  warnings: string[];
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.replace(/^node:/, "")]));

/** Node built-ins, bare or `node:`-prefixed, with subpaths (`fs/promises`). */
export function isNodeBuiltin(specifier: string): boolean {
  if (specifier.startsWith("node:")) return true;
  return BUILTINS.has(specifier) || BUILTINS.has(specifier.split("/")[0]!);
}

/**
 * Turns any import of a Node built-in into a build error at the import (esbuild adds the
 * importing file and line to errors returned from onResolve), with the fix in a note. A bare
 * name that an installed npm package provides (`events`, `buffer`, `punycode/`: browser
 * polyfills) is that package, as in any bundler; `node:` imports are always built-ins.
 */
export const nodeBuiltinsPlugin: esbuild.Plugin = {
  name: "edgefn:no-node-builtins",
  setup(build) {
    const names = [...BUILTINS].filter((m) => !m.startsWith("node:")).map((m) => m.replace(/[/\\^$*+?.()|[\]{}]/g, "\\$&"));
    const filter = new RegExp(`^(node:.*|(${names.join("|")})(/.*)?)$`);
    const SELF = Symbol("edgefn:no-node-builtins");
    build.onResolve({ filter }, async (args) => {
      if (args.pluginData === SELF) return undefined;
      if (!args.path.startsWith("node:")) {
        const found = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: SELF,
        });
        if (found.errors.length === 0) {
          const { path: p, namespace, external, sideEffects, suffix } = found;
          return { path: p, namespace, external, sideEffects, suffix };
        }
      }
      return {
        errors: [
          {
            text: `Cannot import the Node.js built-in module "${args.path}": edge functions run in a V8 isolate with Web APIs only.`,
            notes: [{ text: builtinFix(args.path) }],
          },
        ],
      };
    });
  },
};

function builtinFix(specifier: string): string {
  const name = specifier.replace(/^node:/, "").split("/")[0];
  const alternatives: Record<string, string> = {
    fs: "read configuration from env (spec.env, spec.secrets) and data over fetch(); there is no file system",
    path: "use URL for path joining, or a small path library from npm that does not import Node",
    process: "read configuration from the env argument of fetch(request, env, ctx) instead of process.env",
    child_process: "call another function through a service binding in spec.services",
    crypto: "use the Web Crypto API (crypto.subtle, crypto.getRandomValues, crypto.randomUUID)",
    buffer: "use Uint8Array with TextEncoder/TextDecoder, or atob/btoa for base64",
    http: "use fetch() (allow the host in spec.egress) or a service binding in spec.services",
    https: "use fetch() (allow the host in spec.egress) or a service binding in spec.services",
    net: "use fetch() (allow the host in spec.egress) or a service binding in spec.services",
    url: "use the global URL and URLSearchParams",
    util: "use TextEncoder/TextDecoder and structuredClone",
    stream: "use Web Streams (ReadableStream) and Response bodies",
    timers: "use the global setTimeout/clearTimeout",
    events: "use EventTarget, or a small emitter from npm that does not import Node",
  };
  const alt = name !== undefined ? alternatives[name] : undefined;
  return alt
    ? `Remove this import and ${alt}. If a dependency imports it, choose a version made for Workers/browsers.`
    : "Remove this import and use a Web API instead; if a dependency imports it, choose a package (or version) made for Workers/browsers.";
}

/** esbuild options for a function bundle; exported so tests can assert on them. */
export function bundleOptions(entry: string, nodePaths: string[] = []): esbuild.BuildOptions & { write: false; metafile: true } {
  const dir = path.dirname(entry);
  return {
    // Where packages resolve when no node_modules above the function has them (GitOps checkouts).
    ...(nodePaths.length === 0 ? {} : { nodePaths }),
    entryPoints: [entry],
    // Relative paths in the map and in esbuild's comments: the digest does not depend on
    // where the project is checked out.
    absWorkingDir: dir,
    outfile: path.join(dir, "index.js"),
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    target: "es2023",
    sourcemap: "external",
    sourcesContent: true,
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: [nodeBuiltinsPlugin],
  };
}

/**
 * Bundles `entry` (absolute path); throws ERR_BUILD_FAILED listing every esbuild error.
 * `nodePaths`: folders packages resolve from when no node_modules above the entry has them.
 */
export async function bundleFunction(entry: string, label = displayPath(entry), nodePaths: string[] = []): Promise<BundleResult> {
  const options = bundleOptions(entry, nodePaths);
  let result: esbuild.BuildResult<typeof options>;
  try {
    result = await esbuild.build(options);
  } catch (err) {
    const failure = err as esbuild.BuildFailure;
    if (!Array.isArray(failure.errors)) throw err;
    const n = failure.errors.length;
    throw new CliError("ERR_BUILD_FAILED", `Build of ${label} failed with ${n} error${n === 1 ? "" : "s"}.`, {
      details: failure.errors.map((m) => formatMessage(m, options.absWorkingDir!)).join("\n\n"),
      hint: "Fix the errors above; each names the file and line.",
      cause: err,
    });
  }
  const files = result.outputFiles;
  const code = files.find((f) => f.path.endsWith(".js"))!.text;
  const sourceMap = files.find((f) => f.path.endsWith(".js.map"))!.text;
  const root = options.absWorkingDir!;
  return {
    code,
    sourceMap,
    digest: digestOf(code),
    inputs: Object.keys(result.metafile.inputs)
      .filter((p) => !p.includes(":")) // namespaced virtual modules have no file
      .map((p) => path.resolve(root, p)),
    warnings: result.warnings.map((m) => formatMessage(m, root)),
  };
}

/** The body of `PUT /v1/functions/<name>`: the parsed manifest (defaults resolved) and the bundle. */
export function deploymentOf(fn: FunctionProject, bundle: BundleResult): Deployment {
  return DeploymentSchema.parse({
    manifest: fn.manifest,
    bundle: { code: bundle.code, sourceMap: bundle.sourceMap, digest: bundle.digest },
  });
}

/** `sha256:` + hex sha256 of the code's UTF-8 bytes. */
export function digestOf(code: string): string {
  return `sha256:${createHash("sha256").update(code, "utf8").digest("hex")}`;
}

/**
 * One message as `file:line:col: text`, the source line with a caret, and notes: the shape
 * editors and terminals link, with paths relative to the working directory.
 */
export function formatMessage(m: esbuild.Message, root: string): string {
  const lines: string[] = [];
  const loc = m.location;
  if (loc) {
    const file = displayPath(path.resolve(root, loc.file));
    lines.push(`${file}:${loc.line}:${loc.column + 1}: ${m.text}`);
    if (loc.lineText) {
      const gutter = `${loc.line} | `;
      lines.push(`  ${gutter}${loc.lineText}`);
      lines.push(`  ${" ".repeat(gutter.length - 2)}| ${" ".repeat(loc.column)}${"^".repeat(Math.max(1, loc.length))}`);
    }
  } else {
    lines.push(m.text);
  }
  const missing = /^Could not resolve "([^"]+)"/.exec(m.text)?.[1];
  if (missing !== undefined && !missing.startsWith(".") && !missing.startsWith("/")) {
    // esbuild suggests marking it external, which only moves the failure into the isolate.
    const pkg = missing.startsWith("@") ? missing.split("/").slice(0, 2).join("/") : missing.split("/")[0]!;
    lines.push(`  Is the package "${pkg}" installed? Run \`npm install ${pkg}\` in your project.`);
  } else {
    for (const note of m.notes) lines.push(`  ${note.text}`);
  }
  return lines.join("\n");
}
