/**
 * Inside the isolate: XMLHttpRequest's FormData, and multipart/form-data: serialized as
 * HTML (and Node's undici) do, parsed as the multipart/form-data spec draft that undici and
 * Deno follow, a bit more leniently about Content-Disposition parameter order.
 */
import { Blob, File, blobBytes } from "./blob.ts";
import { concatBytes, requireArgs, tag, toUSVString } from "./convert.ts";
import { createPairIterator, type IterationKind } from "./iterators.ts";
import { decodeUtf8WithoutBOM, encodeUtf8 } from "./utf8.ts";

export type FormDataEntryValue = string | File;

const iterate = createPairIterator("FormData Iterator");

let entriesOf: (form: FormData) => [string, FormDataEntryValue][];

function toEntryValue(value: unknown, filename: unknown, argCount: number, method: string): FormDataEntryValue {
  if (value instanceof Blob) {
    if (argCount > 2 || !(value instanceof File)) {
      const name = argCount > 2 ? toUSVString(filename) : value instanceof File ? value.name : "blob";
      return new File([value], name, { type: value.type, lastModified: value instanceof File ? value.lastModified : undefined });
    }
    return value;
  }
  if (argCount > 2) throw new TypeError(`FormData.${method}: parameter 2 is not of type 'Blob'.`);
  return toUSVString(value);
}

export class FormData {
  #entries: [string, FormDataEntryValue][] = [];

  static {
    entriesOf = (f) => f.#entries;
  }

  constructor(form?: undefined) {
    if (form !== undefined) throw new TypeError("FormData constructor: there is no HTMLFormElement here; call new FormData() without arguments.");
  }

  append(name: string, value: string | Blob, filename?: string): void {
    requireArgs(arguments.length, 2, "FormData.append");
    this.#entries.push([toUSVString(name), toEntryValue(value, filename, arguments.length, "append")]);
  }

  delete(name: string): void {
    requireArgs(arguments.length, 1, "FormData.delete");
    const key = toUSVString(name);
    this.#entries = this.#entries.filter(([n]) => n !== key);
  }

  get(name: string): FormDataEntryValue | null {
    requireArgs(arguments.length, 1, "FormData.get");
    const key = toUSVString(name);
    return this.#entries.find(([n]) => n === key)?.[1] ?? null;
  }

  getAll(name: string): FormDataEntryValue[] {
    requireArgs(arguments.length, 1, "FormData.getAll");
    const key = toUSVString(name);
    return this.#entries.filter(([n]) => n === key).map(([, v]) => v);
  }

  has(name: string): boolean {
    requireArgs(arguments.length, 1, "FormData.has");
    const key = toUSVString(name);
    return this.#entries.some(([n]) => n === key);
  }

  set(name: string, value: string | Blob, filename?: string): void {
    requireArgs(arguments.length, 2, "FormData.set");
    const key = toUSVString(name);
    const entry: [string, FormDataEntryValue] = [key, toEntryValue(value, filename, arguments.length, "set")];
    const first = this.#entries.findIndex(([n]) => n === key);
    if (first === -1) {
      this.#entries.push(entry);
      return;
    }
    this.#entries = this.#entries.filter(([n], i) => i === first || n !== key);
    this.#entries[first] = entry;
  }

  forEach(callback: (value: FormDataEntryValue, name: string, form: FormData) => void, thisArg?: unknown): void {
    requireArgs(arguments.length, 1, "FormData.forEach");
    if (typeof callback !== "function") throw new TypeError("FormData.forEach: the callback is not a function.");
    for (let i = 0; i < this.#entries.length; i++) {
      const [name, value] = this.#entries[i]!;
      callback.call(thisArg, value, name, this);
    }
  }

  #iterate(kind: IterationKind) {
    return iterate(() => this.#entries, kind);
  }

  keys(): IterableIterator<string> {
    return this.#iterate("key") as IterableIterator<string>;
  }

  values(): IterableIterator<FormDataEntryValue> {
    return this.#iterate("value") as IterableIterator<FormDataEntryValue>;
  }

  entries(): IterableIterator<[string, FormDataEntryValue]> {
    return this.#iterate("key+value") as IterableIterator<[string, FormDataEntryValue]>;
  }

  [Symbol.iterator](): IterableIterator<[string, FormDataEntryValue]> {
    return this.entries();
  }
}
Object.defineProperty(FormData.prototype, Symbol.iterator, { value: FormData.prototype.entries });
tag(FormData, "FormData");

const CRLF = "\r\n";
const escapeName = (s: string) => s.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");
const normalizeNewlines = (s: string) => s.replace(/\r\n|\r|\n/g, CRLF);

/** The multipart/form-data encoding of `form`, and its Content-Type with the boundary. */
export function serializeFormData(form: FormData): { bytes: Uint8Array<ArrayBuffer>; contentType: string } {
  let boundary = "----formdata-edgefn-";
  for (let i = 0; i < 4; i++) boundary += Math.floor(Math.random() * 1e8).toString().padStart(8, "0");
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (bytes: Uint8Array) => {
    chunks.push(bytes);
    total += bytes.byteLength;
  };
  let text = "";
  for (const [name, value] of entriesOf(form)) {
    text += `--${boundary}${CRLF}Content-Disposition: form-data; name="${escapeName(normalizeNewlines(name))}"`;
    if (typeof value === "string") {
      text += `${CRLF}${CRLF}${normalizeNewlines(value)}${CRLF}`;
    } else {
      text += `; filename="${escapeName(value.name)}"${CRLF}Content-Type: ${value.type || "application/octet-stream"}${CRLF}${CRLF}`;
      push(encodeUtf8(text));
      text = "";
      push(blobBytes(value));
      text += CRLF;
    }
  }
  text += `--${boundary}--${CRLF}`;
  push(encodeUtf8(text));
  return { bytes: concatBytes(chunks, total), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** application/x-www-form-urlencoded entries into a FormData. */
export function formDataFromPairs(pairs: Iterable<[string, string]>): FormData {
  const form = new FormData();
  const entries = entriesOf(form);
  for (const [name, value] of pairs) entries.push([name, value]);
  return form;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  const last = haystack.length - needle.length;
  outer: for (let i = haystack.indexOf(first, from); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const latin1 = (bytes: Uint8Array) => String.fromCharCode.apply(null, bytes as unknown as number[]);

/** Parses a multipart/form-data body; throws a TypeError saying what is malformed. */
export function parseMultipart(body: Uint8Array, boundary: string): FormData {
  const fail = (why: string): never => {
    throw new TypeError(`Failed to parse body as FormData: ${why}.`);
  };
  const form = new FormData();
  const entries = entriesOf(form);
  const delimiter = encodeUtf8(`--${boundary}`);
  const next = encodeUtf8(`\r\n--${boundary}`);
  let pos = 0;
  // As undici: tolerate CRLFs before the first delimiter.
  while (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
  const startsWith = (bytes: Uint8Array, at: number) => {
    for (let j = 0; j < bytes.length; j++) if (body[at + j] !== bytes[j]) return false;
    return true;
  };
  if (!startsWith(delimiter, pos)) fail("expected the boundary at the start");
  pos += delimiter.length;
  for (;;) {
    // "--" after a delimiter ends the body (whatever follows is the epilogue).
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return form;
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) fail("expected CRLF after the boundary");
    pos += 2;
    const headersEnd = indexOf(body, encodeUtf8("\r\n\r\n"), pos - 2);
    if (headersEnd === -1) fail("a part has no end of headers");
    const part = parsePartHeaders(latin1(body.subarray(pos, headersEnd)), fail);
    pos = headersEnd + 4;
    const end = indexOf(body, next, pos);
    if (end === -1) fail("a part is not followed by the boundary");
    const content = body.subarray(pos, end);
    pos = end + next.length;
    if (part.filename !== null) {
      let type = part.contentType ?? "text/plain";
      if (/[^\x00-\x7f]/.test(type)) type = "";
      entries.push([part.name, new File([content], part.filename, { type })]);
    } else {
      entries.push([part.name, decodeUtf8WithoutBOM(content)]);
    }
  }
}

interface PartHeaders {
  name: string;
  filename: string | null;
  contentType: string | null;
}

function parsePartHeaders(block: string, fail: (why: string) => never): PartHeaders {
  let name: string | null = null;
  let filename: string | null = null;
  let contentType: string | null = null;
  for (const line of block === "" ? [] : block.split(CRLF)) {
    const colon = line.indexOf(":");
    if (colon <= 0) fail(`malformed part header "${line}"`);
    const header = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (header === "content-disposition") {
      const params = parseDisposition(value);
      if (params === null) fail(`expected form-data in Content-Disposition, got "${value}"`);
      name = params.get("name") ?? null;
      filename = params.get("filename*") ?? params.get("filename") ?? null;
    } else if (header === "content-type") {
      contentType = value;
    }
  }
  if (name === null) fail("a part has no name in its Content-Disposition");
  return { name: name!, filename, contentType };
}

/** `form-data; name="a"; filename="b"` into lower-case names and decoded values. */
function parseDisposition(value: string): Map<string, string> | null {
  const semi = value.indexOf(";");
  const kind = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (kind !== "form-data") return null;
  const params = new Map<string, string>();
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/gy;
  re.lastIndex = semi === -1 ? value.length : semi;
  for (let m = re.exec(value); m !== null; m = re.exec(value)) {
    const key = m[1]!.toLowerCase();
    let v: string;
    if (m[2] !== undefined) {
      // Names come percent-escaped (%0A %0D %22) and as UTF-8 bytes read as Latin-1 here.
      v = utf8FromLatin1(m[2]).replace(/%0A/gi, "\n").replace(/%0D/gi, "\r").replace(/%22/g, '"');
    } else if (key === "filename*") {
      const ext = /^utf-8'[^']*'(.*)$/i.exec(m[3]!.trim());
      if (ext === null) continue;
      try {
        v = decodeURIComponent(ext[1]!);
      } catch {
        continue;
      }
    } else {
      v = utf8FromLatin1(m[3]!.trim());
    }
    if (!params.has(key)) params.set(key, v);
  }
  return params;
}

function utf8FromLatin1(s: string): string {
  if (!/[^\x00-\x7f]/.test(s)) return s;
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return decodeUtf8WithoutBOM(bytes);
}
