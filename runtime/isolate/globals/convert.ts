/**
 * Inside the isolate: the few WebIDL conversions the fetch classes need, with the TypeErrors
 * browsers and Node throw for them.
 */

export function requireArgs(count: number, required: number, what: string): void {
  if (count < required) {
    throw new TypeError(`${what}: ${required} argument${required === 1 ? "" : "s"} required, but only ${count} present.`);
  }
}

/** WebIDL ByteString: String(value), every code unit <= 0xFF. */
export function toByteString(value: unknown, what: string): string {
  const s = typeof value === "string" ? value : String(value as string);
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0xff) {
      throw new TypeError(`${what}: cannot convert to a ByteString because the character at index ${i} has a value of ${s.charCodeAt(i)} which is greater than 255.`);
    }
  }
  return s;
}

/** WebIDL USVString: String(value), lone surrogates replaced by U+FFFD. */
export function toUSVString(value: unknown): string {
  const s = typeof value === "string" ? value : String(value as string);
  return s.isWellFormed() ? s : s.toWellFormed();
}

export function isObject(value: unknown): value is object {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

/** RFC 9110 token: a method, a header name, a MIME type or parameter name. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A copy of the bytes of an ArrayBuffer, a view, or a SharedArrayBuffer. */
export function copyBytes(source: ArrayBufferLike | ArrayBufferView): Uint8Array<ArrayBuffer> {
  if (ArrayBuffer.isView(source)) {
    return new Uint8Array(source.buffer, source.byteOffset, source.byteLength).slice();
  }
  return new Uint8Array(source).slice();
}

export function isBufferSource(value: unknown): value is ArrayBufferLike | ArrayBufferView {
  return (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer === "function" && value instanceof SharedArrayBuffer)
  );
}

/** `bytes` if it spans its whole ArrayBuffer, else a copy that does (what crosses to the host). */
export function exactBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : (bytes.slice() as Uint8Array<ArrayBuffer>);
}

/** Concatenates chunks into one exact-length buffer (the only chunk itself when alone). */
export { concatBytes } from "../../bytes.ts";

/** Sets Symbol.toStringTag as WebIDL interfaces have it (non-writable, configurable). */
export function tag(ctor: { prototype: object }, name: string): void {
  Object.defineProperty(ctor.prototype, Symbol.toStringTag, { value: name, configurable: true });
}

/**
 * Defines Web API globals as WebIDL does (writable, configurable, not enumerable), and gives
 * each its Web name back: the globals script is minified, which renames classes.
 */
export function defineGlobals(g: Record<string, unknown>, values: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === "function") Object.defineProperty(value, "name", { value: name, configurable: true });
    Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
  }
}
