/** Inside the isolate: the File API's Blob and File, holding their bytes in one buffer. */
import { concatBytes, isBufferSource, isObject, requireArgs, tag, toUSVString } from "./convert.ts";
import { streamFromBytes, type ReadableStream } from "./streams.ts";
import { decodeUtf8, encodeUtf8 } from "./utf8.ts";

export type BlobPart = ArrayBufferLike | ArrayBufferView | Blob | string;

export interface BlobPropertyBag {
  type?: string;
  endings?: "transparent" | "native";
}

export interface FilePropertyBag extends BlobPropertyBag {
  lastModified?: number;
}

/** The type attribute: lower-cased, or "" if it has anything outside U+0020..U+007E. */
function normalizeType(type: unknown): string {
  if (type === undefined) return "";
  const s = String(type);
  return /[^\x20-\x7e]/.test(s) ? "" : s.toLowerCase();
}

function convertEndings(s: string): string {
  return s.replace(/\r\n|\r/g, "\n");
}

let bytesOf: (blob: Blob) => Uint8Array<ArrayBuffer>;
let createBlob: (bytes: Uint8Array<ArrayBuffer>, type: string) => Blob;

export class Blob {
  // Never mutated once set: slices and bodies may share it.
  #bytes: Uint8Array<ArrayBuffer>;
  #type: string;

  static {
    bytesOf = (b) => b.#bytes;
    createBlob = (bytes, type) => {
      const blob = new Blob();
      blob.#bytes = bytes;
      blob.#type = type;
      return blob;
    };
  }

  constructor(blobParts?: Iterable<BlobPart>, options?: BlobPropertyBag) {
    if (options !== undefined && options !== null && !isObject(options)) {
      throw new TypeError("Blob constructor: options must be an object.");
    }
    const endings = options?.endings === undefined ? "transparent" : String(options.endings);
    if (endings !== "transparent" && endings !== "native") {
      throw new TypeError(`Blob constructor: "${endings}" is not a valid value for endings.`);
    }
    this.#type = normalizeType(options?.type);
    this.#bytes = blobParts === undefined ? new Uint8Array(0) : collectParts(blobParts, endings === "native");
  }

  get size(): number {
    return this.#bytes.byteLength;
  }

  get type(): string {
    return this.#type;
  }

  slice(start?: number, end?: number, contentType?: string): Blob {
    const size = this.#bytes.byteLength;
    const relative = (value: number | undefined, fallback: number) => {
      if (value === undefined) return fallback;
      const n = Math.trunc(Number(value)) || 0;
      return n < 0 ? Math.max(size + n, 0) : Math.min(n, size);
    };
    const from = relative(start, 0);
    const to = relative(end, size);
    const span = Math.max(to - from, 0);
    return createBlob(this.#bytes.subarray(from, from + span) as Uint8Array<ArrayBuffer>, normalizeType(contentType));
  }

  async text(): Promise<string> {
    return decodeUtf8(this.#bytes);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return this.#bytes.slice().buffer;
  }

  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#bytes.slice();
  }

  stream(): ReadableStream<Uint8Array> {
    return streamFromBytes(this.#bytes, false);
  }
}
tag(Blob, "Blob");

function collectParts(parts: Iterable<BlobPart>, native: boolean): Uint8Array<ArrayBuffer> {
  if (!isObject(parts) || typeof (parts as Partial<Iterable<unknown>>)[Symbol.iterator] !== "function") {
    throw new TypeError("Blob constructor: the blob parts must be a sequence.");
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  // A lone part that is a caller's buffer is copied, so later changes do not show through;
  // several parts are copied by concatenation anyway, and Blob bytes never change.
  let borrowed = false;
  for (const part of parts as Iterable<unknown>) {
    let bytes: Uint8Array;
    if (part instanceof Blob) {
      bytes = bytesOf(part);
      borrowed = false;
    } else if (isBufferSource(part)) {
      bytes = ArrayBuffer.isView(part)
        ? new Uint8Array(part.buffer, part.byteOffset, part.byteLength)
        : new Uint8Array(part);
      borrowed = true;
    } else {
      const s = toUSVString(part);
      bytes = encodeUtf8(native ? convertEndings(s) : s);
      borrowed = false;
    }
    chunks.push(bytes);
    total += bytes.byteLength;
  }
  if (chunks.length === 1 && borrowed) return chunks[0]!.slice() as Uint8Array<ArrayBuffer>;
  return concatBytes(chunks, total);
}

export class File extends Blob {
  #name: string;
  #lastModified: number;

  constructor(fileBits: Iterable<BlobPart>, fileName: string, options?: FilePropertyBag) {
    requireArgs(arguments.length, 2, "File constructor");
    super(fileBits, options);
    this.#name = toUSVString(fileName);
    const lastModified = options?.lastModified;
    this.#lastModified = lastModified === undefined ? Date.now() : Math.trunc(Number(lastModified)) || 0;
  }

  get name(): string {
    return this.#name;
  }

  get lastModified(): number {
    return this.#lastModified;
  }

  get webkitRelativePath(): string {
    return "";
  }
}
tag(File, "File");

/** The bytes behind a Blob; shared, never to be mutated. */
export function blobBytes(blob: Blob): Uint8Array<ArrayBuffer> {
  return bytesOf(blob);
}

/** A Blob over `bytes`, which the caller hands over and must not mutate afterwards. */
export function blobFromBytes(bytes: Uint8Array<ArrayBuffer>, type: string): Blob {
  return createBlob(bytes, normalizeType(type));
}
