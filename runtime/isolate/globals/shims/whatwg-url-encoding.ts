/**
 * Inside the isolate: stands in for whatwg-url's lib/encoding.js, which builds a TextEncoder
 * when its module is evaluated: before the platform installs one. Same exports, plain JS.
 */
import { encodeUtf8, decodeUtf8WithoutBOM } from "../utf8.ts";

export function utf8Encode(input: string): Uint8Array {
  return encodeUtf8(input);
}

export function utf8DecodeWithoutBOM(bytes: Uint8Array): string {
  return decodeUtf8WithoutBOM(bytes);
}
