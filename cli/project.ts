/**
 * Finds and loads functions: every `edgefn.yaml` below a directory (skipping node_modules and
 * dot-directories), parsed with the yaml package and EdgeFunctionSchema. Errors name the file,
 * the line and column, and the field path (`spec.limits.cpuMs`).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { isMap, isPair, isScalar, LineCounter, parseAllDocuments, type Document } from "yaml";
import type { z } from "zod";
import { EdgeFunctionSchema, type EdgeFunction } from "../runtime/manifest.ts";
import { CliError } from "./errors.ts";

export const MANIFEST_FILE = "edgefn.yaml";

/** One function found on disk. */
export interface FunctionProject {
  name: string;
  /** Absolute path of its edgefn.yaml. */
  manifestPath: string;
  /** Absolute path of the directory holding edgefn.yaml. */
  dir: string;
  /** Absolute path of spec.source. */
  entry: string;
  manifest: EdgeFunction;
}

export interface Discovery {
  functions: FunctionProject[];
  /** One per manifest that could not be loaded (`file`: absolute path); those are left out. */
  errors: { file: string; error: CliError }[];
}

/** A path as the user would type it: relative to the working directory when that is shorter. */
export function displayPath(p: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, p);
  if (rel === "") return ".";
  return rel.startsWith(`..${path.sep}..${path.sep}`) || path.isAbsolute(rel) ? p : rel;
}

/** True for paths discovery never looks into. */
export function isIgnoredPath(rel: string): boolean {
  return rel.split(/[\\/]/).some((part) => part === "node_modules" || (part.startsWith(".") && part !== "." && part !== ".."));
}

/** Absolute paths of every edgefn.yaml under `root` (or `root` itself if it is one), sorted. */
export async function findManifests(root: string): Promise<string[]> {
  const abs = path.resolve(root);
  const info = await stat(abs).catch(() => undefined);
  if (!info) {
    throw new CliError("ERR_FILE_NOT_FOUND", `${displayPath(abs)} does not exist.`, {
      hint: "Pass the directory that holds your functions, e.g. `edgefn dev ./fns`.",
    });
  }
  if (info.isFile()) return [abs];
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      if (e.isDirectory()) {
        if (e.name === "node_modules" || e.name.startsWith(".")) continue;
        await walk(path.join(dir, e.name));
      } else if (e.isFile() && e.name === MANIFEST_FILE) {
        found.push(path.join(dir, e.name));
      }
    }
  };
  await walk(abs);
  return found.sort();
}

/** Loads every function under `root`; a bad manifest becomes an entry in `errors`. */
export async function discoverFunctions(root: string): Promise<Discovery> {
  const files = await findManifests(root);
  if (files.length === 0) {
    throw new CliError("ERR_MANIFEST_NOT_FOUND", `No ${MANIFEST_FILE} found under ${displayPath(path.resolve(root))}.`, {
      hint: `Each function needs an ${MANIFEST_FILE} beside its code. Create one with \`edgefn init ${path.join(root, "hello")}\`.`,
    });
  }
  const functions: FunctionProject[] = [];
  const errors: Discovery["errors"] = [];
  const byName = new Map<string, FunctionProject>();
  for (const file of files) {
    try {
      const fn = await loadFunction(file);
      const first = byName.get(fn.name);
      if (first) throw duplicateError(fn.name, first.manifestPath, file);
      byName.set(fn.name, fn);
      functions.push(fn);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      errors.push({ file, error: err });
    }
  }
  return { functions, errors };
}

export function duplicateError(name: string, first: string, second: string): CliError {
  return new CliError(
    "ERR_DUPLICATE_FUNCTION",
    `Function "${name}" is declared twice: in ${displayPath(first)} and in ${displayPath(second)}.`,
    { hint: `metadata.name must be unique; rename one of them. ${displayPath(second)} is skipped.` },
  );
}

/** Reads and validates one edgefn.yaml, and checks that its spec.source exists. */
export async function loadFunction(manifestPath: string): Promise<FunctionProject> {
  const file = path.resolve(manifestPath);
  const text = await readFile(file, "utf8");
  const { manifest, locate } = parseManifest(text, file);
  const dir = path.dirname(file);
  const entry = path.resolve(dir, manifest.spec.source);
  if (!existsSync(entry)) {
    throw new CliError("ERR_SOURCE_NOT_FOUND", `${displayPath(file)}: spec.source names a file that does not exist.`, {
      details: `${locate(["spec", "source"])}  spec.source: ${displayPath(entry)} not found`,
      hint: `Point spec.source at the function's entry module, relative to ${MANIFEST_FILE} (default ./index.ts).`,
    });
  }
  return { name: manifest.metadata.name, manifestPath: file, dir, entry, manifest };
}

type PathKey = string | number;

/**
 * Parses manifest text. Errors name `file:line:col` and the field path; `locate(path)` gives
 * the same location prefix for a field, for later checks.
 */
export function parseManifest(
  text: string,
  file: string,
): { manifest: EdgeFunction; locate: (p: PathKey[], atKey?: boolean) => string } {
  const shown = displayPath(file);
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const invalid = (details: string[]) =>
    new CliError("ERR_MANIFEST_INVALID", `${shown} is not a valid EdgeFunction manifest.`, {
      details: details.join("\n"),
      hint: "Fix the fields listed above. `edgefn init <dir>` writes a valid edgefn.yaml to start from.",
    });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${shown}:${line}:${col}`;
  };

  if (!Array.isArray(docs) || docs.length === 0) throw invalid([`${shown}:1:1  the file is empty`]);
  if (docs.length > 1) {
    const second = docs[1]!;
    throw invalid([`${at(second.range[0])}  holds ${docs.length} YAML documents; put one function in each ${MANIFEST_FILE}`]);
  }
  const doc = docs[0]!;
  if (doc.errors.length > 0) {
    throw invalid(doc.errors.map((e) => `${at(e.pos[0])}  ${firstLine(e.message)}`));
  }
  const locate = (p: PathKey[], atKey = false) => at(offsetOf(doc, p, atKey));
  const result = EdgeFunctionSchema.safeParse(doc.toJS());
  if (!result.success) throw invalid(result.error.issues.map((issue) => formatIssue(issue, locate)));
  return { manifest: result.data, locate };
}

/** `file:line:col  spec.limits.cpuMs: Too big: expected number to be <=30000` */
function formatIssue(issue: z.core.$ZodIssue, locate: (p: PathKey[], atKey?: boolean) => string): string {
  const p = issue.path.filter((k): k is PathKey => typeof k !== "symbol");
  if (issue.code === "unrecognized_keys") {
    return issue.keys
      .map((key) => `${locate([...p, key], true)}  ${formatPath([...p, key])}: unknown field "${key}"`)
      .join("\n");
  }
  return `${locate(p)}  ${formatPath(p) || "(document)"}: ${issue.message}`;
}

/** `spec.secrets[0].name` */
export function formatPath(p: PathKey[]): string {
  return p.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s === "" ? k : `${s}.${k}`), "");
}

/**
 * Offset of the value at `p` (or of its key, with `atKey`), or of the nearest ancestor that
 * exists when the field is missing.
 */
function offsetOf(doc: Document, p: PathKey[], atKey: boolean): number {
  for (let n = p.length; n >= 0; n--) {
    const parent = n === 0 ? doc.contents : doc.getIn(p.slice(0, n - 1), true);
    if (n === 0) return (parent as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
    const key = p[n - 1]!;
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === key);
      const target = n === p.length && !atKey && pair?.value ? pair.value : pair?.key;
      const range = (target as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) return range[0];
    } else {
      const node = doc.getIn(p.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return node.range[0];
    }
  }
  return 0;
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}
