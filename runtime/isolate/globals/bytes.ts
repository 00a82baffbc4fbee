/** Inside the isolate: BufferSource helpers shared by encoding, crypto and clone. */

const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype) as object,
  Symbol.toStringTag,
)!.get!;
const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!;

/** The typed array's constructor name ("Uint8Array"...), or undefined for anything else. */
export function typedArrayName(value: unknown): string | undefined {
  return typedArrayTag.call(value) as string | undefined;
}

/** True for a real ArrayBuffer (not a SharedArrayBuffer, not a look-alike). */
export function isArrayBuffer(value: unknown): value is ArrayBuffer {
  try {
    arrayBufferByteLength.call(value);
    return true;
  } catch {
    return false;
  }
}

/** A Uint8Array view of a BufferSource (no copy), or a TypeError naming the argument. */
export function toBytes(input: unknown, name: string): Uint8Array {
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (isArrayBuffer(input) || (typeof SharedArrayBuffer === "function" && input instanceof SharedArrayBuffer)) {
    return new Uint8Array(input as ArrayBuffer);
  }
  throw new TypeError(`The "${name}" argument must be an instance of ArrayBuffer or ArrayBufferView.`);
}

/** A copy of a BufferSource's bytes, in a fresh ArrayBuffer of exactly that size. */
export function copyBytes(input: unknown, name: string): Uint8Array<ArrayBuffer> {
  return toBytes(input, name).slice();
}
