/**
 * Inside the isolate: the type and constructor checks util.inspect needs, done with plain JS
 * (brand checks through built-in getters) where Node uses internal bindings.
 */


export const objectToString = Object.prototype.toString;
function brand(get: (this: unknown) => unknown, value: unknown): boolean {
  try {
    get.call(value);
    return true;
  } catch {
    return false;
  }
}
const getter = (proto: object, key: PropertyKey) => Object.getOwnPropertyDescriptor(proto, key)!.get!;
export const mapSize = getter(Map.prototype, "size");
export const setSize = getter(Set.prototype, "size");
const regExpSource = getter(RegExp.prototype, "source");
const dataViewLength = getter(DataView.prototype, "byteLength");
export const isMap = (v: object): v is Map<unknown, unknown> => brand(mapSize, v);
export const isSet = (v: object): v is Set<unknown> => brand(setSize, v);
export const isDate = (v: object): v is Date => brand(Date.prototype.getTime, v);
export const isRegExp = (v: object): v is RegExp => v !== RegExp.prototype && brand(regExpSource, v);
export const isDataView = (v: object): v is DataView => brand(dataViewLength, v);
export const isWeakMap = (v: object) => brand(function (this: unknown) { WeakMap.prototype.has.call(this as WeakMap<object, unknown>, {}); }, v);
export const isWeakSet = (v: object) => brand(function (this: unknown) { WeakSet.prototype.has.call(this as WeakSet<object>, {}); }, v);
export const isPromise = (v: object) => v instanceof Promise || objectToString.call(v) === "[object Promise]";

export function isError(v: unknown): v is Error {
  return v instanceof Error || objectToString.call(v) === "[object Error]";
}

export function boxed(v: object): [string, unknown] | undefined {
  const tries: [string, (this: unknown) => unknown][] = [
    ["Number", Number.prototype.valueOf],
    ["String", String.prototype.valueOf],
    ["Boolean", Boolean.prototype.valueOf],
    ["BigInt", BigInt.prototype.valueOf],
    ["Symbol", Symbol.prototype.valueOf],
  ];
  for (const [type, valueOf] of tries) {
    try {
      return [type, valueOf.call(v)];
    } catch {
      // not this type
    }
  }
  return undefined;
}

/** A constructor that is one of V8's own globals (Node's builtInObjects). */
export function isBuiltInConstructor(fn: unknown): boolean {
  if (typeof fn !== "function" || !/^[A-Z][a-zA-Z0-9]+$/.test(fn.name)) return false;
  return (globalThis as unknown as Record<string, unknown>)[fn.name] === fn && Function.prototype.toString.call(fn).endsWith("{ [native code] }");
}

export function getConstructorName(obj: object): string | null {
  const original = obj;
  let current: object | null = obj;
  while (current) {
    const descriptor = Object.getOwnPropertyDescriptor(current, "constructor");
    if (descriptor !== undefined && typeof descriptor.value === "function" && descriptor.value.name !== "") {
      try {
        if (original instanceof descriptor.value) return String(descriptor.value.name);
      } catch {
        // a throwing Symbol.hasInstance
      }
    }
    current = Object.getPrototypeOf(current);
    if (current === null && Object.getPrototypeOf(original) === null) return null;
  }
  return Object.getPrototypeOf(original) === null ? null : "Object";
}

export function getPrefix(constructor: string | null, tag: string, fallback: string, size = ""): string {
  if (constructor === null) {
    if (tag !== "" && fallback !== tag) return `[${fallback}${size}: null prototype] [${tag}] `;
    return `[${fallback}${size}: null prototype] `;
  }
  let result = `${constructor}${size} `;
  if (tag !== "") {
    const position = constructor.indexOf(tag);
    if (position === -1) {
      result += `[${tag}] `;
    } else {
      const endPos = position + tag.length;
      if (endPos !== constructor.length && constructor[endPos] === constructor[endPos]!.toLowerCase()) result += `[${tag}] `;
    }
  }
  return result;
}

export function getKeys(value: object, showHidden: boolean): PropertyKey[] {
  const symbols = Object.getOwnPropertySymbols(value);
  let keys: PropertyKey[];
  if (showHidden) {
    keys = Object.getOwnPropertyNames(value);
    if (symbols.length !== 0) keys.push(...symbols);
  } else {
    keys = Object.keys(value);
    for (const s of symbols) if (Object.prototype.propertyIsEnumerable.call(value, s)) keys.push(s);
  }
  return keys;
}

function isIndex(key: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

export function getOwnNonIndexProperties(value: object, showHidden: boolean): PropertyKey[] {
  const out: PropertyKey[] = [];
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key === "string" && isIndex(key)) continue;
    if (!showHidden && !Object.prototype.propertyIsEnumerable.call(value, key)) continue;
    out.push(key);
  }
  return out;
}

export function getCtxStyle(value: object, constructor: string | null, tag: string): string {
  let fallback = "";
  if (constructor === null) {
    fallback = objectToString.call(value).slice(8, -1);
    if (fallback === tag) fallback = "Object";
  }
  return getPrefix(constructor, tag, fallback);
}
