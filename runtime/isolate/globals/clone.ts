/**
 * Inside the isolate: structuredClone (HTML's StructuredSerialize + Deserialize in one pass).
 * Keeps identity and cycles; copies primitives' wrappers, Date, RegExp, ArrayBuffer (and
 * views sharing one buffer stay sharing), Map, Set, Error types, DOMException, arrays
 * (holes and extra keys) and plain data objects (own enumerable string keys, prototype
 * dropped). Functions, symbols and objects with other internal state (Promise, WeakMap...)
 * throw a DataCloneError. `transfer` detaches the listed ArrayBuffers.
 * Written here rather than taken from @ungap/structured-clone, which turns buffers into
 * number arrays, loses shared views and throws TypeError instead of DataCloneError.
 */
import { DOMException } from "./dom-exception.ts";
import { isArrayBuffer, typedArrayName } from "./bytes.ts";

const ERROR_NAMES = ["Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError"];
const toString = Object.prototype.toString;

function fail(what: string): never {
  throw new DOMException(`${what} could not be cloned.`, "DataCloneError");
}

function has<T>(brand: (this: unknown) => T, value: object): boolean {
  try {
    brand.call(value);
    return true;
  } catch {
    return false;
  }
}

const dateValue = Date.prototype.getTime;
const regExpSource = Object.getOwnPropertyDescriptor(RegExp.prototype, "source")!.get!;
const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, "size")!.get!;
const setSize = Object.getOwnPropertyDescriptor(Set.prototype, "size")!.get!;
const dataViewLength = Object.getOwnPropertyDescriptor(DataView.prototype, "byteLength")!.get!;

export function structuredClone(value: unknown, options?: { transfer?: unknown[] }): unknown {
  if (arguments.length === 0) throw new TypeError('The "value" argument must be specified');
  const memory = new Map<object, unknown>();
  const transfer = options?.transfer === undefined ? [] : [...options.transfer];
  for (let i = 0; i < transfer.length; i++) {
    const buffer = transfer[i];
    if (buffer === null || (typeof buffer !== "object" && typeof buffer !== "function")) {
      throw new TypeError(`Failed to execute 'structuredClone': transfer in Options[${i}] is not an object.`);
    }
    if (!isArrayBuffer(buffer)) fail("Value in transfer list");
    if (transfer.indexOf(buffer) !== i) throw new DOMException("Transfer list contains duplicate values.", "DataCloneError");
    if ((buffer as ArrayBuffer & { detached?: boolean }).detached) fail("A detached ArrayBuffer");
  }
  const result = clone(value, memory);
  // The clone holds copies; detaching the originals completes the "transfer".
  for (const buffer of transfer as (ArrayBuffer & { transfer(n: number): ArrayBuffer })[]) buffer.transfer(0);
  return result;
}

function clone(value: unknown, memory: Map<object, unknown>): unknown {
  if (typeof value === "symbol") fail(String(value));
  if (typeof value === "function") fail(`${String(value).slice(0, 64)}`);
  if (value === null || typeof value !== "object") return value;
  if (memory.has(value)) return memory.get(value);

  const tag = toString.call(value);
  let out: unknown;
  switch (tag) {
    case "[object Boolean]":
      out = Object(Boolean.prototype.valueOf.call(value));
      break;
    case "[object Number]":
      out = Object(Number.prototype.valueOf.call(value));
      break;
    case "[object String]":
      out = Object(String.prototype.valueOf.call(value));
      break;
    case "[object BigInt]":
      out = Object(BigInt.prototype.valueOf.call(value));
      break;
    default:
      out = undefined;
  }
  if (out !== undefined) {
    memory.set(value, out);
    return out;
  }

  if (has(dateValue, value)) {
    out = new Date(dateValue.call(value));
  } else if (has(regExpSource, value) && value !== RegExp.prototype) {
    const re = value as RegExp;
    out = new RegExp(re.source, re.flags);
  } else if (isArrayBuffer(value)) {
    if ((value as ArrayBuffer & { detached?: boolean }).detached) fail("A detached ArrayBuffer");
    const resizable = (value as ArrayBuffer & { resizable?: boolean }).resizable;
    out = resizable
      ? copyResizable(value as ArrayBuffer & { maxByteLength: number })
      : value.slice(0);
  } else if (ArrayBuffer.isView(value)) {
    const name = typedArrayName(value);
    const buffer = clone(value.buffer, memory) as ArrayBuffer;
    if (name !== undefined) {
      const ctor = (globalThis as unknown as Record<string, new (b: ArrayBuffer, o: number, l?: number) => unknown>)[name]!;
      const view = value as unknown as { byteOffset: number; length: number };
      out = new ctor(buffer, view.byteOffset, view.length);
    } else if (has(dataViewLength, value)) {
      out = new DataView(buffer, value.byteOffset, value.byteLength);
    } else {
      fail("Value");
    }
  } else if (has(mapSize, value)) {
    const map = new Map();
    memory.set(value, map);
    for (const [k, v] of Map.prototype.entries.call(value as Map<unknown, unknown>)) map.set(clone(k, memory), clone(v, memory));
    return map;
  } else if (has(setSize, value)) {
    const set = new Set();
    memory.set(value, set);
    for (const v of Set.prototype.values.call(value as Set<unknown>)) set.add(clone(v, memory));
    return set;
  } else if (value instanceof DOMException) {
    out = new DOMException(value.message, value.name);
  } else if (tag === "[object Error]" || value instanceof Error) {
    return cloneError(value as Error, memory);
  } else if (Array.isArray(value)) {
    const array = new Array(value.length);
    memory.set(value, array);
    for (const key of Object.keys(value)) array[key as unknown as number] = clone((value as unknown as Record<string, unknown>)[key], memory);
    return array;
  } else if (isPlainData(value, tag)) {
    const object: Record<string, unknown> = {};
    memory.set(value, object);
    for (const key of Object.keys(value)) object[key] = clone((value as Record<string, unknown>)[key], memory);
    return object;
  } else {
    fail(describe(value, tag));
  }
  memory.set(value, out);
  return out;
}

function cloneError(error: Error, memory: Map<object, unknown>): Error {
  const name = error.name;
  const Ctor = ERROR_NAMES.includes(name) ? (globalThis as unknown as Record<string, ErrorConstructor>)[name]! : Error;
  const out = new Ctor();
  memory.set(error, out);
  const message = Object.getOwnPropertyDescriptor(error, "message");
  if (message !== undefined) {
    Object.defineProperty(out, "message", { value: String(message.value), writable: true, configurable: true });
  }
  const stack = error.stack;
  Object.defineProperty(out, "stack", { value: typeof stack === "string" ? stack : undefined, writable: true, configurable: true });
  if (Object.prototype.hasOwnProperty.call(error, "cause")) {
    Object.defineProperty(out, "cause", { value: clone(error.cause, memory), writable: true, configurable: true });
  }
  return out;
}

function copyResizable(buffer: ArrayBuffer & { maxByteLength: number }): ArrayBuffer {
  const out = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(buffer.byteLength, {
    maxByteLength: buffer.maxByteLength,
  });
  new Uint8Array(out).set(new Uint8Array(buffer));
  return out;
}

/** Objects with no internal slots we cannot copy: ordinary objects and class instances. */
function isPlainData(value: object, tag: string): boolean {
  if (tag !== "[object Object]") {
    // A toStringTag on a class is fine; built-ins with state (Promise, WeakMap...) are not.
    const own = (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
    if (typeof own !== "string" || BUILT_IN_TAGS.includes(own)) return false;
  }
  return !(value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef);
}

const BUILT_IN_TAGS = ["Promise", "WeakMap", "WeakSet", "WeakRef", "FinalizationRegistry", "Generator", "AsyncGenerator", "Map Iterator", "Set Iterator", "Array Iterator", "String Iterator", "RegExp String Iterator", "Iterator", "Module", "SharedArrayBuffer"];

function describe(value: object, tag: string): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "" ? `#<${name}>` : tag;
}
