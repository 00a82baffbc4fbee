/**
 * Inside the isolate: UTF-8 encode and decode in plain JS, as the Encoding Standard defines
 * them (lone surrogates and invalid sequences become U+FFFD, maximal subparts as V8 does).
 * The fetch and URL code use these directly so they never depend on, or can be fooled by,
 * whatever sits on globalThis.TextEncoder later. TextEncoder, TextDecoder (encoding.ts) and
 * TextDecoderStream (streams.ts) are built on them too.
 */

const REPLACEMENT = 0xfffd;

/** What TextDecoder and TextDecoderStream throw on invalid input when `fatal` (Node's code). */
export class EncodingError extends TypeError {
  constructor(encoding: string) {
    super(`The encoded data was not valid for encoding ${encoding}`);
    (this as { code?: string }).code = "ERR_ENCODING_INVALID_ENCODED_DATA";
  }
}

/** UTF-8 bytes of `input`, in an ArrayBuffer of exactly that length. */
export function encodeUtf8(input: string): Uint8Array<ArrayBuffer> {
  const length = input.length;
  // Most text is ASCII (JSON, headers, URLs): one pass, one byte per code unit.
  let out = new Uint8Array(length);
  let i = 0;
  for (; i < length; i++) {
    const c = input.charCodeAt(i);
    if (c >= 0x80) break;
    out[i] = c;
  }
  if (i === length) return out;
  let size = i;
  for (let j = i; j < length; j++) {
    const c = input.charCodeAt(j);
    if (c < 0x80) size += 1;
    else if (c < 0x800) size += 2;
    else if (c >= 0xd800 && c <= 0xdbff && j + 1 < length && isLow(input.charCodeAt(j + 1))) {
      size += 4;
      j++;
    } else size += 3; // BMP, or a lone surrogate as U+FFFD
  }
  out = new Uint8Array(size);
  // The ASCII prefix again, from the string: a subarray() copy costs more for short strings.
  for (let k = 0; k < i; k++) out[k] = input.charCodeAt(k);
  let o = i;
  for (; i < length; i++) {
    let c = input.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
    } else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < length ? input.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && isLow(next)) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          out[o++] = 0xf0 | (cp >> 18);
          out[o++] = 0x80 | ((cp >> 12) & 0x3f);
          out[o++] = 0x80 | ((cp >> 6) & 0x3f);
          out[o++] = 0x80 | (cp & 0x3f);
          continue;
        }
        c = REPLACEMENT;
      }
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    }
  }
  return out;
}

/** TextEncoder.encodeInto: writes whole code points of `input` while they fit in `out`. */
export function encodeUtf8Into(input: string, out: Uint8Array): { read: number; written: number } {
  const length = input.length;
  const capacity = out.length;
  let i = 0;
  let o = 0;
  while (i < length) {
    let c = input.charCodeAt(i);
    if (c < 0x80) {
      if (o >= capacity) break;
      out[o++] = c;
      i++;
      continue;
    }
    if (c < 0x800) {
      if (o + 2 > capacity) break;
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
      i++;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < length ? input.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && isLow(next)) {
        if (o + 4 > capacity) break;
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        out[o++] = 0xf0 | (cp >> 18);
        out[o++] = 0x80 | ((cp >> 12) & 0x3f);
        out[o++] = 0x80 | ((cp >> 6) & 0x3f);
        out[o++] = 0x80 | (cp & 0x3f);
        i += 2;
        continue;
      }
      c = REPLACEMENT;
    }
    if (o + 3 > capacity) break;
    out[o++] = 0xe0 | (c >> 12);
    out[o++] = 0x80 | ((c >> 6) & 0x3f);
    out[o++] = 0x80 | (c & 0x3f);
    i++;
  }
  return { read: i, written: o };
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

const CHUNK = 0x2000;

/**
 * The Encoding Standard's UTF-8 decoder, with state so a stream can be decoded chunk by
 * chunk (TextDecoderStream). `decode(bytes, true)` keeps an incomplete sequence for later.
 */
export class Utf8Decoder {
  #codePoint = 0;
  #seen = 0;
  #needed = 0;
  #lower = 0x80;
  #upper = 0xbf;
  #bomSeen: boolean;
  #fatal: boolean;

  /** `ignoreBOM` keeps a leading U+FEFF; `fatal` throws an EncodingError instead of writing U+FFFD. */
  constructor(ignoreBOM = false, fatal = false) {
    this.#bomSeen = ignoreBOM;
    this.#fatal = fatal;
  }

  #error(): number {
    if (this.#fatal) {
      this.#reset();
      throw new EncodingError("utf-8");
    }
    return REPLACEMENT;
  }

  decode(bytes: Uint8Array, stream = false): string {
    let out = "";
    const units: number[] = [];
    const length = bytes.length;
    for (let i = 0; i < length; i++) {
      const byte = bytes[i]!;
      if (this.#needed === 0) {
        if (byte < 0x80) {
          // ASCII run: copy straight through.
          let end = i + 1;
          while (end < length && bytes[end]! < 0x80) end++;
          if (units.length > 0) {
            out += String.fromCharCode.apply(null, units);
            units.length = 0;
          }
          for (let s = i; s < end; s += CHUNK) {
            out += String.fromCharCode.apply(null, bytes.subarray(s, Math.min(end, s + CHUNK)) as unknown as number[]);
          }
          i = end - 1;
          continue;
        }
        if (byte >= 0xc2 && byte <= 0xdf) {
          this.#needed = 1;
          this.#codePoint = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) this.#lower = 0xa0;
          if (byte === 0xed) this.#upper = 0x9f;
          this.#needed = 2;
          this.#codePoint = byte & 0xf;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) this.#lower = 0x90;
          if (byte === 0xf4) this.#upper = 0x8f;
          this.#needed = 3;
          this.#codePoint = byte & 0x7;
        } else {
          units.push(this.#error());
        }
      } else if (byte < this.#lower || byte > this.#upper) {
        this.#reset();
        units.push(this.#error());
        i--; // reprocess this byte
        continue;
      } else {
        this.#lower = 0x80;
        this.#upper = 0xbf;
        this.#codePoint = (this.#codePoint << 6) | (byte & 0x3f);
        this.#seen++;
        if (this.#seen === this.#needed) {
          const cp = this.#codePoint;
          this.#reset();
          if (cp > 0xffff) units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
          else units.push(cp);
        }
      }
      if (units.length >= CHUNK) {
        out += String.fromCharCode.apply(null, units);
        units.length = 0;
      }
    }
    if (!stream && this.#needed !== 0) {
      this.#reset();
      units.push(this.#error());
    }
    if (units.length > 0) out += String.fromCharCode.apply(null, units);
    // The BOM is dropped once, if it is the first code point of the stream.
    if (!this.#bomSeen && out.length > 0) {
      this.#bomSeen = true;
      if (out.charCodeAt(0) === 0xfeff) out = out.slice(1);
    }
    return out;
  }

  #reset(): void {
    this.#codePoint = 0;
    this.#seen = 0;
    this.#needed = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }
}

/** "UTF-8 decode": drops a leading BOM. */
export function decodeUtf8(bytes: Uint8Array): string {
  return new Utf8Decoder(false).decode(bytes);
}

/** "UTF-8 decode without BOM": keeps a leading U+FEFF. */
export function decodeUtf8WithoutBOM(bytes: Uint8Array): string {
  return new Utf8Decoder(true).decode(bytes);
}
