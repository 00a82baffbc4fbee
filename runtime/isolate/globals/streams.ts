/**
 * Inside the isolate: WHATWG Streams from web-streams-polyfill (the spec's reference
 * implementation, ponyfill build), plus TextEncoderStream/TextDecoderStream on top, and the
 * few internal peeks the body code uses to avoid needless work.
 */
import type * as Polyfill from "web-streams-polyfill";
import type { ReadableStream, ReadableStreamDefaultReader, TransformStream, WritableStream } from "web-streams-polyfill";
import { defineGlobals, tag } from "./convert.ts";
import { defineLazyGlobals } from "./lazy.ts";
import { Utf8Decoder, encodeUtf8 } from "./utf8.ts";

export type { ReadableStream, ReadableStreamDefaultReader, TransformStream, WritableStream };

let polyfill: typeof Polyfill | undefined;

/** web-streams-polyfill, evaluated on first use (see lazy.ts). */
export function streams(): typeof Polyfill {
  // require(), not import: esbuild then evaluates the module only when this first runs.
  polyfill ??= require("web-streams-polyfill") as typeof Polyfill;
  return polyfill;
}

/** No stream exists before the polyfill is loaded, so this never loads it. */
export function isReadableStream(value: unknown): value is ReadableStream {
  return polyfill !== undefined && value instanceof polyfill.ReadableStream;
}

const STREAM_GLOBALS = [
  "ReadableStream",
  "ReadableStreamDefaultReader",
  "ReadableStreamBYOBReader",
  "ReadableStreamBYOBRequest",
  "ReadableStreamDefaultController",
  "ReadableByteStreamController",
  "WritableStream",
  "WritableStreamDefaultWriter",
  "WritableStreamDefaultController",
  "TransformStream",
  "TransformStreamDefaultController",
  "ByteLengthQueuingStrategy",
  "CountQueuingStrategy",
] as const;

const UTF8_LABELS = new Set(["unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"]);

export class TextEncoderStream {
  #transform: TransformStream<string, Uint8Array>;

  constructor() {
    let pendingHigh = "";
    this.#transform = new (streams().TransformStream)<string, Uint8Array>({
      transform(chunk, controller) {
        let s = pendingHigh + String(chunk);
        pendingHigh = "";
        // A high surrogate at the end may pair with the next chunk.
        const last = s.charCodeAt(s.length - 1);
        if (last >= 0xd800 && last <= 0xdbff) {
          pendingHigh = s.slice(-1);
          s = s.slice(0, -1);
        }
        if (s !== "") controller.enqueue(encodeUtf8(s));
      },
      flush(controller) {
        if (pendingHigh !== "") controller.enqueue(encodeUtf8("\ufffd"));
      },
    });
  }

  get encoding(): string {
    return "utf-8";
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#transform.readable;
  }

  get writable(): WritableStream<string> {
    return this.#transform.writable;
  }
}
tag(TextEncoderStream, "TextEncoderStream");

interface StreamingDecoder {
  decode(bytes: Uint8Array, stream: boolean): string;
}

export class TextDecoderStream {
  #transform: TransformStream<BufferSource, string>;
  #encoding: string;
  #fatal: boolean;
  #ignoreBOM: boolean;

  constructor(label: string = "utf-8", options: { fatal?: boolean; ignoreBOM?: boolean } = {}) {
    const normalized = String(label).trim().toLowerCase();
    this.#fatal = Boolean(options?.fatal);
    this.#ignoreBOM = Boolean(options?.ignoreBOM);
    let decoder: StreamingDecoder;
    if (UTF8_LABELS.has(normalized)) {
      this.#encoding = "utf-8";
      decoder = new Utf8Decoder(this.#ignoreBOM, this.#fatal);
    } else {
      // Other encodings: the platform's TextDecoder (it validates the label).
      const Ctor = (globalThis as { TextDecoder?: new (l: string, o: object) => { encoding: string; decode(b: Uint8Array, o: object): string } }).TextDecoder;
      if (Ctor === undefined) throw new RangeError(`The "${label}" encoding is not supported`);
      const td = new Ctor(normalized, { fatal: this.#fatal, ignoreBOM: this.#ignoreBOM });
      this.#encoding = td.encoding;
      decoder = { decode: (bytes, stream) => td.decode(bytes, { stream }) };
    }
    this.#transform = new (streams().TransformStream)<BufferSource, string>({
      transform(chunk: unknown, controller) {
        if (!(ArrayBuffer.isView(chunk) || chunk instanceof ArrayBuffer || (typeof SharedArrayBuffer === "function" && chunk instanceof SharedArrayBuffer))) {
          throw new TypeError("TextDecoderStream: chunks must be an ArrayBuffer or an ArrayBufferView");
        }
        const bytes = ArrayBuffer.isView(chunk)
          ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
          : new Uint8Array(chunk as ArrayBuffer);
        const s = decoder.decode(bytes, true);
        if (s !== "") controller.enqueue(s);
      },
      flush(controller) {
        const s = decoder.decode(new Uint8Array(0), false);
        if (s !== "") controller.enqueue(s);
      },
    });
  }

  get encoding(): string {
    return this.#encoding;
  }

  get fatal(): boolean {
    return this.#fatal;
  }

  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  get readable(): ReadableStream<string> {
    return this.#transform.readable;
  }

  get writable(): WritableStream<BufferSource> {
    return this.#transform.writable;
  }
}
tag(TextDecoderStream, "TextDecoderStream");

export function installStreams(g: Record<string, unknown>): void {
  defineLazyGlobals(g, STREAM_GLOBALS, () => {
    const values: Record<string, unknown> = {};
    const module = streams() as unknown as Record<string, unknown>;
    for (const name of STREAM_GLOBALS) {
      // Their own names back: the bundle is minified.
      Object.defineProperty(module[name] as object, "name", { value: name, configurable: true });
      values[name] = module[name];
    }
    return values;
  });
  defineGlobals(g, { TextEncoderStream, TextDecoderStream });
}

/*
 * Peeks at web-streams-polyfill's internal slots (stable across its 4.x line; a test pins
 * them). They let a body that is already complete go to the host in one piece, and let
 * several queued chunks go in one pull, instead of one cross-isolate hop per chunk.
 */
interface StreamSlots {
  _state?: "readable" | "closed" | "errored";
  _disturbed?: boolean;
  _readableStreamController?: { _closeRequested?: boolean; _queueTotalSize?: number };
}

/** The spec's "disturbed": something has read from or cancelled the stream. */
export function isDisturbed(stream: ReadableStream): boolean {
  return (stream as unknown as StreamSlots)._disturbed === true;
}

/** Every chunk is queued already and close() was called: reading will not wait. */
export function isFullyBuffered(stream: ReadableStream): boolean {
  const s = stream as unknown as StreamSlots;
  if (s._state === "closed") return true;
  return s._state === "readable" && s._readableStreamController?._closeRequested === true;
}

/** A chunk is queued now, so read() resolves without waiting on the source. */
export function hasQueuedChunk(stream: ReadableStream): boolean {
  const s = stream as unknown as StreamSlots;
  return s._state === "readable" && (s._readableStreamController?._queueTotalSize ?? 0) > 0;
}

/**
 * A readable byte stream holding `bytes`, enqueued at once and closed, so it counts as fully
 * buffered (`new Response(upstream.body, upstream)` still goes to the host in one piece).
 * Enqueueing transfers the buffer: pass `owned` only for bytes nobody else holds.
 */
export function streamFromBytes(bytes: Uint8Array<ArrayBuffer>, owned: boolean): ReadableStream<Uint8Array> {
  return new (streams().ReadableStream)({
    type: "bytes",
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(owned ? bytes : bytes.slice());
      controller.close();
    },
  }) as ReadableStream<Uint8Array>;
}
