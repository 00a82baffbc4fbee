/**
 * Inside the isolate: the Fetch Standard's Headers. Names are stored lower-case, grouped by
 * name in first-seen order (that order goes on the wire); iteration is the spec's "sort and
 * combine": sorted names, values joined with ", ", each Set-Cookie on its own.
 */
import type { HeaderList } from "../wire.ts";
import { TOKEN, isObject, requireArgs, tag, toByteString } from "./convert.ts";
import { createPairIterator, type IterationKind } from "./iterators.ts";

/** "immutable": incoming requests and fetch() responses, as in Workers. */
export type HeadersGuard = "none" | "immutable";

export type HeadersInit = Headers | Iterable<Iterable<unknown>> | Record<string, unknown>;

const iterate = createPairIterator("Headers Iterator");

/** HTTP whitespace around a value is dropped (the spec's "normalize"). */
const normalize = (value: string) => value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
const INVALID_VALUE = /[\0\r\n]/;

function checkName(name: string, method: string): string {
  if (!TOKEN.test(name)) throw new TypeError(`Headers.${method}: "${name}" is an invalid header name.`);
  return name.toLowerCase();
}

function checkValue(value: string, method: string): string {
  const normalized = normalize(value);
  if (INVALID_VALUE.test(normalized)) throw new TypeError(`Headers.${method}: "${value}" is an invalid header value.`);
  return normalized;
}

let mapOf: (headers: Headers) => Map<string, string[]>;
let setGuard: (headers: Headers, guard: HeadersGuard) => void;
let invalidate: (headers: Headers) => void;
let guardOf: (headers: Headers) => HeadersGuard;

export class Headers {
  #map = new Map<string, string[]>();
  #guard: HeadersGuard = "none";
  #sorted: [string, string][] | null = null;

  static {
    mapOf = (h) => h.#map;
    setGuard = (h, g) => {
      h.#guard = g;
    };
    guardOf = (h) => h.#guard;
    invalidate = (h) => {
      h.#sorted = null;
    };
  }

  constructor(init?: HeadersInit) {
    if (init === undefined) return;
    if (init instanceof Headers) {
      for (const [name, values] of init.#map) this.#map.set(name, values.slice());
      return;
    }
    if (!isObject(init)) {
      throw new TypeError("Headers constructor: the argument must be a sequence of pairs or a record.");
    }
    const iteratorMethod = (init as Partial<Iterable<unknown>>)[Symbol.iterator];
    if (iteratorMethod !== undefined && iteratorMethod !== null) {
      if (typeof iteratorMethod !== "function") throw new TypeError("Headers constructor: Symbol.iterator is not a function.");
      // Converted fully first (WebIDL sequence), then appended.
      const pairs: string[][] = [];
      for (const item of init as Iterable<unknown>) {
        if (!isObject(item) || typeof (item as Partial<Iterable<unknown>>)[Symbol.iterator] !== "function") {
          throw new TypeError("Headers constructor: each header must be a [name, value] pair.");
        }
        const pair = Array.from(item as Iterable<unknown>, (v) => toByteString(v, "Headers constructor"));
        if (pair.length !== 2) {
          throw new TypeError(`Headers constructor: expected name/value pair to be length 2, found ${pair.length}.`);
        }
        pairs.push(pair);
      }
      for (const [name, value] of pairs) this.#append(name!, value!, "append");
      return;
    }
    const record = init as Record<PropertyKey, unknown>;
    const pairs: [string, string][] = [];
    for (const key of Reflect.ownKeys(record)) {
      const desc = Reflect.getOwnPropertyDescriptor(record, key);
      if (desc === undefined || !desc.enumerable) continue;
      if (typeof key === "symbol") throw new TypeError("Headers constructor: a header name cannot be a Symbol.");
      pairs.push([toByteString(key, "Headers constructor"), toByteString(record[key], "Headers constructor")]);
    }
    for (const [name, value] of pairs) this.#append(name, value, "append");
  }

  #mutable(): void {
    if (this.#guard === "immutable") throw new TypeError("Can't modify immutable headers.");
  }

  #append(name: string, value: string, method: string): void {
    const key = checkName(name, method);
    const v = checkValue(value, method);
    this.#mutable();
    const values = this.#map.get(key);
    if (values === undefined) this.#map.set(key, [v]);
    else values.push(v);
    this.#sorted = null;
  }

  append(name: string, value: string): void {
    requireArgs(arguments.length, 2, "Headers.append");
    this.#append(toByteString(name, "Headers.append"), toByteString(value, "Headers.append"), "append");
  }

  delete(name: string): void {
    requireArgs(arguments.length, 1, "Headers.delete");
    const key = checkName(toByteString(name, "Headers.delete"), "delete");
    this.#mutable();
    if (this.#map.delete(key)) this.#sorted = null;
  }

  get(name: string): string | null {
    requireArgs(arguments.length, 1, "Headers.get");
    const key = checkName(toByteString(name, "Headers.get"), "get");
    const values = this.#map.get(key);
    return values === undefined ? null : values.join(", ");
  }

  getSetCookie(): string[] {
    return this.#map.get("set-cookie")?.slice() ?? [];
  }

  has(name: string): boolean {
    requireArgs(arguments.length, 1, "Headers.has");
    return this.#map.has(checkName(toByteString(name, "Headers.has"), "has"));
  }

  set(name: string, value: string): void {
    requireArgs(arguments.length, 2, "Headers.set");
    const key = checkName(toByteString(name, "Headers.set"), "set");
    const v = checkValue(toByteString(value, "Headers.set"), "set");
    this.#mutable();
    this.#map.set(key, [v]);
    this.#sorted = null;
  }

  #pairs(): [string, string][] {
    if (this.#sorted !== null) return this.#sorted;
    const sorted: [string, string][] = [];
    for (const name of [...this.#map.keys()].sort()) {
      const values = this.#map.get(name)!;
      if (name === "set-cookie") for (const v of values) sorted.push([name, v]);
      else sorted.push([name, values.join(", ")]);
    }
    this.#sorted = sorted;
    return sorted;
  }

  forEach(callback: (value: string, name: string, headers: Headers) => void, thisArg?: unknown): void {
    requireArgs(arguments.length, 1, "Headers.forEach");
    if (typeof callback !== "function") throw new TypeError("Headers.forEach: the callback is not a function.");
    for (let i = 0; ; i++) {
      const pairs = this.#pairs();
      if (i >= pairs.length) break;
      const [name, value] = pairs[i]!;
      callback.call(thisArg, value, name, this);
    }
  }

  #iterate(kind: IterationKind) {
    return iterate(() => this.#pairs(), kind);
  }

  keys(): HeadersIterator<string> {
    return this.#iterate("key") as HeadersIterator<string>;
  }

  values(): HeadersIterator<string> {
    return this.#iterate("value") as HeadersIterator<string>;
  }

  entries(): HeadersIterator<[string, string]> {
    return this.#iterate("key+value") as HeadersIterator<[string, string]>;
  }

  [Symbol.iterator](): HeadersIterator<[string, string]> {
    return this.entries();
  }
}
Object.defineProperty(Headers.prototype, Symbol.iterator, { value: Headers.prototype.entries });
tag(Headers, "Headers");

/** Copies `source` with its guard (Request/Response clone()). */
export function cloneHeaders(source: Headers): Headers {
  const copy = new Headers(source);
  setGuard(copy, guardOf(source));
  return copy;
}

export function guardHeaders(headers: Headers, guard: HeadersGuard): Headers {
  setGuard(headers, guard);
  return headers;
}

/** From the wire: names are lower-case and values valid already (the host parsed them). */
export function headersFromWire(list: HeaderList, guard: HeadersGuard): Headers {
  const headers = new Headers();
  const map = mapOf(headers);
  for (const [name, value] of list) {
    const values = map.get(name);
    if (values === undefined) map.set(name, [value]);
    else values.push(value);
  }
  setGuard(headers, guard);
  return headers;
}

export function headersToWire(headers: Headers): HeaderList {
  const list: HeaderList = [];
  for (const [name, values] of mapOf(headers)) for (const value of values) list.push([name, value]);
  return list;
}

/** Fast internal get/has for header names already lower-case (no validation). */
export function getHeader(headers: Headers, lowerName: string): string | null {
  const values = mapOf(headers).get(lowerName);
  return values === undefined ? null : values.join(", ");
}

/** Internal append that bypasses the guard (setting Content-Type while constructing). */
export function appendHeaderInternal(headers: Headers, lowerName: string, value: string): void {
  const map = mapOf(headers);
  const values = map.get(lowerName);
  if (values === undefined) map.set(lowerName, [value]);
  else values.push(value);
  invalidate(headers);
}

export interface HeadersIterator<T> extends IterableIterator<T> {}
