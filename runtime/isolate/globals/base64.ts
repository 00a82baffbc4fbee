/**
 * Inside the isolate: atob and btoa (HTML's forgiving-base64), with Node's error messages.
 * Also the byte-level helpers, for code that has bytes rather than binary strings.
 */
import { DOMException } from "./dom-exception.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const CHUNK = 0x2000;

let decodeTable: Int16Array | undefined;

function table(): Int16Array {
  if (decodeTable === undefined) {
    decodeTable = new Int16Array(128).fill(-1);
    for (let i = 0; i < 64; i++) decodeTable[ALPHABET.charCodeAt(i)] = i;
  }
  return decodeTable;
}

/** Base64 of bytes, with padding. */
export function base64Encode(bytes: Uint8Array): string {
  let out = "";
  let chunk = "";
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    chunk += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + ALPHABET[v & 63]!;
    if (chunk.length >= CHUNK) {
      out += chunk;
      chunk = "";
    }
  }
  if (i < n) {
    const v = (bytes[i]! << 16) | (i + 1 < n ? bytes[i + 1]! << 8 : 0);
    chunk += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + (i + 1 < n ? ALPHABET[(v >> 6) & 63]! : "=") + "=";
  }
  return out + chunk;
}

/** Bytes of forgiving-base64 text, or null when it is not valid base64. */
export function base64Decode(input: string): Uint8Array | null {
  const result = decode(input);
  return typeof result === "number" ? null : result;
}

const BAD_CHARACTER = -2;
const BAD_LENGTH = -1;

function decode(input: string): Uint8Array | number {
  const t = table();
  // Count the data characters first: whitespace may appear anywhere.
  let data = 0;
  let end = input.length;
  for (let i = 0; i < end; i++) {
    const c = input.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) continue;
    if (c === 0x3d) {
      // "=" may only end the data: one or two of them, then whitespace.
      let pad = 0;
      let j = i;
      for (; j < end; j++) {
        const d = input.charCodeAt(j);
        if (d === 0x3d) pad++;
        else if (!(d === 0x20 || d === 0x09 || d === 0x0a || d === 0x0c || d === 0x0d)) return BAD_CHARACTER;
      }
      if (pad > 2 || (data + pad) % 4 !== 0) return BAD_CHARACTER;
      end = i;
      break;
    }
    if (c > 127 || t[c] === -1) return BAD_CHARACTER;
    data++;
  }
  if (data % 4 === 1) return BAD_LENGTH;
  const out = new Uint8Array((data * 3) >> 2);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const v = t[input.charCodeAt(i)];
    if (v === undefined || v === -1) continue; // whitespace
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

function missingInput(): TypeError {
  return Object.assign(new TypeError('The "input" argument must be specified'), { code: "ERR_MISSING_ARGS" });
}

export function btoa(...args: unknown[]): string {
  if (args.length === 0) throw missingInput();
  const input = String(args[0]);
  const bytes = new Uint8Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c > 0xff) throw new DOMException("Invalid character", "InvalidCharacterError");
    bytes[i] = c;
  }
  return base64Encode(bytes);
}

export function atob(...args: unknown[]): string {
  if (args.length === 0) throw missingInput();
  const bytes = decode(String(args[0]));
  if (bytes === BAD_CHARACTER) throw new DOMException("Invalid character", "InvalidCharacterError");
  if (typeof bytes === "number") {
    throw new DOMException("The string to be decoded is not correctly encoded.", "InvalidCharacterError");
  }
  let out = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return out;
}
