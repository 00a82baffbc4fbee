/**
 * Inside the isolate: the Fetch Standard's Body mixin for Request and Response. A body known
 * up front (string, bytes, Blob, form) stays a byte array until someone asks for `.body`, so
 * `await res.text()` and handing a response to the host never build a stream.
 */
import { Blob, blobBytes, blobFromBytes } from "./blob.ts";
import { concatBytes, copyBytes, isBufferSource } from "./convert.ts";
import { FormData, formDataFromPairs, parseMultipart, serializeFormData } from "./form-data.ts";
import { getHeader, type Headers } from "./headers.ts";
import { essence, parseMimeType, serializeMimeType, type MimeType } from "./mime.ts";
import { isDisturbed, isReadableStream, streamFromBytes, streams, type ReadableStream, type ReadableStreamDefaultReader } from "./streams.ts";
import { isURLSearchParams, parseUrlencoded } from "./url.ts";
import { decodeUtf8, encodeUtf8 } from "./utf8.ts";

export interface InnerBody {
  /** The content while no stream was asked for; null once consumed or turned into `stream`. */
  bytes: Uint8Array<ArrayBuffer> | null;
  stream: ReadableStream<Uint8Array> | null;
  /** Consumed while still bytes (the stream's "disturbed", without a stream). */
  used: boolean;
  /** `bytes` is also held by a clone or a Blob: hand out copies only. */
  shared: boolean;
}

export type BodyInit =
  | ReadableStream<Uint8Array>
  | Blob
  | ArrayBuffer
  | ArrayBufferView
  | FormData
  | URLSearchParams
  | string;

export function bodyFromBytes(bytes: Uint8Array<ArrayBuffer>, shared = false): InnerBody {
  return { bytes, stream: null, used: false, shared };
}

/** The spec's "extract a body": the body and the Content-Type it implies, if any. */
export function extractBody(init: unknown): { body: InnerBody; type: string | null } {
  if (typeof init === "string") {
    return { body: bodyFromBytes(encodeUtf8(init)), type: "text/plain;charset=UTF-8" };
  }
  if (isReadableStream(init)) {
    if (init.locked || isDisturbed(init)) throw new TypeError("The body's ReadableStream is locked or has been read already.");
    return { body: { bytes: null, stream: init, used: false, shared: false }, type: null };
  }
  if (init instanceof Blob) {
    return { body: bodyFromBytes(blobBytes(init), true), type: init.type === "" ? null : init.type };
  }
  if (isBufferSource(init)) return { body: bodyFromBytes(copyBytes(init)), type: null };
  if (isURLSearchParams(init)) {
    return { body: bodyFromBytes(encodeUtf8(init.toString())), type: "application/x-www-form-urlencoded;charset=UTF-8" };
  }
  if (init instanceof FormData) {
    const { bytes, contentType } = serializeFormData(init);
    return { body: bodyFromBytes(bytes), type: contentType };
  }
  // Anything else is a USVString to WebIDL.
  return extractBody(String(init as string).toWellFormed());
}

export function isUsed(body: InnerBody | null): boolean {
  return body !== null && (body.used || (body.stream !== null && isDisturbed(body.stream)));
}

export function isUnusable(body: InnerBody | null): boolean {
  return body !== null && (isUsed(body) || (body.stream !== null && body.stream.locked));
}

/** The `body` getter: the stream, made from the bytes on first access. */
export function bodyStream(body: InnerBody | null): ReadableStream<Uint8Array> | null {
  if (body === null) return null;
  if (body.stream === null) {
    if (body.used) {
      // Already read: a closed stream that reports itself disturbed, as the spec's would be.
      const empty = new (streams().ReadableStream)<Uint8Array>({ start: (c) => c.close() });
      void empty.cancel();
      body.stream = empty;
    } else {
      body.stream = streamFromBytes(body.bytes!, !body.shared);
      body.bytes = null;
    }
  }
  return body.stream;
}

/** Takes the body out of its holder for a clone(): the holder keeps one half. */
export function cloneBody(body: InnerBody): InnerBody {
  if (body.stream !== null) {
    const [a, b] = body.stream.tee();
    body.stream = a;
    return { bytes: null, stream: b, used: false, shared: false };
  }
  body.shared = true;
  return { bytes: body.bytes, stream: null, used: false, shared: true };
}

const unusable = (what: string) => new TypeError(`${what}: Body is unusable: Body has already been read`);

/**
 * Reads the whole body ("fully read"): synchronously marks it used or locks its stream,
 * so a second read fails even before the first finishes.
 */
export function readBody(body: InnerBody | null, what: string): Promise<Uint8Array<ArrayBuffer>> {
  if (isUnusable(body)) return Promise.reject(unusable(what));
  if (body === null) return Promise.resolve(new Uint8Array(0));
  if (body.stream === null) {
    const bytes = body.bytes!;
    body.bytes = null;
    body.used = true;
    return Promise.resolve(body.shared ? bytes.slice() : bytes);
  }
  return readStream(body.stream.getReader(), what);
}

async function readStream(reader: ReadableStreamDefaultReader<Uint8Array>, what: string): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) {
      const error = new TypeError(`${what}: the body stream gave a chunk that is not a Uint8Array (${describe(value)}).`);
      await reader.cancel(error).catch(() => {});
      throw error;
    }
    chunks.push(value);
    total += value.byteLength;
  }
  return concatBytes(chunks, total);
}

/** "a string", "an ArrayBuffer", "a plain object": for error messages. */
export function describe(value: unknown): string {
  const article = (word: string) => (/^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`);
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "function") return "a function";
  if (typeof value === "object") {
    let name: unknown;
    try {
      name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    } catch {
      name = undefined;
    }
    if (name === "Object") return "a plain object";
    return typeof name === "string" && name !== "" ? article(name) : "an object";
  }
  return article(typeof value);
}

export async function bodyText(body: InnerBody | null, what: string): Promise<string> {
  return decodeUtf8(await readBody(body, what));
}

export async function bodyJson(body: InnerBody | null, what: string): Promise<unknown> {
  return JSON.parse(decodeUtf8(await readBody(body, what)));
}

export async function bodyArrayBuffer(body: InnerBody | null, what: string): Promise<ArrayBuffer> {
  return (await readBody(body, what)).buffer;
}

export async function bodyBytes(body: InnerBody | null, what: string): Promise<Uint8Array<ArrayBuffer>> {
  return readBody(body, what);
}

export async function bodyBlob(body: InnerBody | null, headers: Headers, what: string): Promise<Blob> {
  const mime = extractMimeType(headers);
  const bytes = await readBody(body, what);
  return blobFromBytes(bytes, mime === null ? "" : serializeMimeType(mime));
}

export async function bodyFormData(body: InnerBody | null, headers: Headers, what: string): Promise<FormData> {
  const mime = extractMimeType(headers);
  const kind = mime === null ? null : essence(mime);
  if (kind === "multipart/form-data") {
    const boundary = mime!.parameters.get("boundary");
    if (boundary === undefined) {
      if (isUnusable(body)) throw unusable(what);
      throw new TypeError(`${what}: the multipart/form-data Content-Type has no boundary.`);
    }
    return parseMultipart(await readBody(body, what), boundary);
  }
  if (kind === "application/x-www-form-urlencoded") {
    return formDataFromPairs(parseUrlencoded(await readBody(body, what)));
  }
  if (isUnusable(body)) throw unusable(what);
  throw new TypeError(`${what}: could not parse content as FormData: Content-Type is ${getHeader(headers, "content-type") ?? "missing"}, not multipart/form-data or application/x-www-form-urlencoded.`);
}

/** The Fetch Standard's "extract a MIME type" from a header list. */
export function extractMimeType(headers: Headers): MimeType | null {
  const value = getHeader(headers, "content-type");
  if (value === null) return null;
  let charset: string | null = null;
  let current: string | null = null;
  let mime: MimeType | null = null;
  for (const part of splitHeaderValue(value)) {
    const temp = parseMimeType(part);
    if (temp === null || essence(temp) === "*/*") continue;
    mime = temp;
    if (essence(mime) !== current) {
      charset = mime.parameters.get("charset") ?? null;
      current = essence(mime);
    } else if (!mime.parameters.has("charset") && charset !== null) {
      mime.parameters.set("charset", charset);
    }
  }
  return mime;
}

/** "Get, decode, and split": commas outside quoted strings separate values. */
function splitHeaderValue(value: string): string[] {
  const values: string[] = [];
  let current = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '"') {
      current += c;
      for (i++; i < value.length; i++) {
        current += value[i]!;
        if (value[i] === "\\" && i + 1 < value.length) current += value[++i]!;
        else if (value[i] === '"') break;
      }
    } else if (c === ",") {
      values.push(current.replace(/^[\t ]+|[\t ]+$/g, ""));
      current = "";
    } else current += c;
  }
  values.push(current.replace(/^[\t ]+|[\t ]+$/g, ""));
  return values;
}
