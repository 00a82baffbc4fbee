/**
 * Unknown-field detection from kubernetes-models' own type declarations. Its validate() is
 * generated from the OpenAPI schemas, which allow extra properties (the API server prunes them,
 * or refuses them under kubectl's strict field validation), and toJSON() keeps them, so neither
 * catches a misspelt key. The package's .d.ts files list every known property of every type,
 * so we read those: each `export interface IX { "prop"?: T; }` becomes a node whose children
 * are resolved through the file's imports. Read once per type, cached.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** What a property may hold: a struct with known keys, a map or list of something, or anything. */
type Shape =
  | { kind: "leaf" }
  | { kind: "struct"; fields: () => Map<string, Shape> }
  | { kind: "map"; of: Shape }
  | { kind: "array"; of: Shape };

const LEAF: Shape = { kind: "leaf" };
const structs = new Map<string, Map<string, Shape> | null>();

const MODELS_ROOT = path.dirname(fileURLToPath(import.meta.resolve("kubernetes-models")));

/** The .d.ts of a kubernetes-models class, e.g. `apps/v1/Deployment`. */
export function modelDeclaration(model: string): string {
  return path.join(MODELS_ROOT, `${model}.d.ts`);
}

/**
 * Paths of keys in `value` that the model's declarations do not know, as `spec.template.x`.
 * `model` is a path inside kubernetes-models (`apps/v1/Deployment`).
 */
export function unknownFields(value: unknown, model: string): string[] {
  const found: string[] = [];
  walk(value, structShape(modelDeclaration(model)), "", found);
  return found;
}

function walk(value: unknown, shape: Shape, at: string, found: string[]): void {
  if (value === null || typeof value !== "object") return;
  if (shape.kind === "array") {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, shape.of, `${at}[${i}]`, found));
  } else if (shape.kind === "map") {
    for (const [k, v] of Object.entries(value)) walk(v, shape.of, join(at, k), found);
  } else if (shape.kind === "struct" && !Array.isArray(value)) {
    const fields = shape.fields();
    // An interface without properties (JSON, RawExtension) holds anything.
    if (fields.size === 0) return;
    for (const [k, v] of Object.entries(value)) {
      const child = fields.get(k);
      if (child === undefined) found.push(join(at, k));
      else walk(v, child, join(at, k), found);
    }
  }
}

function join(at: string, key: string): string {
  return at === "" ? key : `${at}.${key}`;
}

function structShape(file: string): Shape {
  return { kind: "struct", fields: () => readStruct(file) };
}

/** The properties of the first exported interface in `file`, with their shapes. */
function readStruct(file: string): Map<string, Shape> {
  const cached = structs.get(file);
  if (cached) return cached;
  if (cached === null) return new Map(); // a type alias (Quantity, IntOrString): a leaf
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) imports.set(m[1]!, m[2]!);
  const start = /export interface (\w+)(?: extends [\w, ]+)? \{/.exec(text);
  if (!start) {
    structs.set(file, null);
    return new Map();
  }
  const fields = new Map<string, Shape>();
  structs.set(file, fields);
  // JSONSchemaProps refers to itself by its own name, not through an import.
  imports.set(start[1]!, `./${path.basename(file).replace(/\.d\.ts$/, ".js")}`);
  for (const member of members(text, start.index + start[0].length)) {
    const m = /^"([^"]+)"\??:\s*([\s\S]+)$/.exec(member);
    if (m) fields.set(m[1]!, typeShape(m[2]!.trim(), file, imports));
  }
  return fields;
}

/** The `;`-separated members of the block that starts at `from`, up to its closing brace. */
function members(text: string, from: number): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = "";
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c === "{" || c === "<") depth++;
    if (c === ">" && text[i - 1] !== "=") depth--;
    if (c === "}") {
      if (depth === 0) break;
      depth--;
    }
    if (c === ";" && depth === 0) {
      out.push(current.trim());
      current = "";
    } else {
      current += c;
    }
  }
  return out;
}

function typeShape(type: string, file: string, imports: Map<string, string>): Shape {
  const array = /^Array<([\s\S]+)>$/.exec(type);
  if (array) return { kind: "array", of: typeShape(array[1]!.trim(), file, imports) };
  const map = /^\{\s*\[key: string\]:\s*([\s\S]+?);?\s*\}$/.exec(type);
  if (map) return { kind: "map", of: typeShape(map[1]!.trim(), file, imports) };
  const from = imports.get(type);
  if (from === undefined) return LEAF; // string, number, boolean, a union of literals
  const target = resolveDeclaration(from, file);
  return target === undefined ? LEAF : structShape(target);
}

/** `./Container.js` or `@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta`, as a .d.ts path. */
function resolveDeclaration(specifier: string, fromFile: string): string | undefined {
  if (specifier.startsWith(".")) return path.resolve(path.dirname(fromFile), specifier.replace(/\.js$/, ".d.ts"));
  const parts = specifier.split("/");
  const pkg = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
  const rest = parts.slice(pkg.split("/").length).join("/");
  // Node's lookup: node_modules/<pkg> in this folder or the nearest one above it.
  for (let dir = path.dirname(fromFile); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", pkg, `${rest}.d.ts`);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}
