/**
 * Inside the isolate: Node's util.inspect, ported from Node 24's
 * lib/internal/util/inspect.js for what a console line needs (no colors, no Proxy details).
 * The layout rules (compact = 3, breakLength = 80, array grouping, <ref *1>) are Node's, so a
 * function logs what it would log under Node. Not knowable from plain JS, and so shown
 * differently: a Promise's state ("<unknown>"), Map/Set iterator contents, Proxy internals.
 * Node's package "node-inspect-extracted" was measured and rejected: 2.4 ms and 160 KB per
 * context to load, against a 1.5 ms budget for the whole globals script.
 */
import { isArrayBuffer, typedArrayName } from "./bytes.ts";
import { escapeFn, strEscape, strEscapeSequencesReplacer } from "./inspect-strings.ts";
import {
  boxed, getConstructorName, getCtxStyle, getKeys, getOwnNonIndexProperties, getPrefix, isDataView, isDate, isError,
  isMap, isPromise, isRegExp, isSet, isWeakMap, isWeakSet, mapSize, objectToString, setSize,
} from "./inspect-types.ts";

export interface InspectOptions {
  depth?: number | null;
  showHidden?: boolean;
  breakLength?: number;
  compact?: number | boolean;
  maxArrayLength?: number | null;
  maxStringLength?: number | null;
  sorted?: boolean;
  getters?: boolean;
  customInspect?: boolean;
}

interface Ctx {
  seen: unknown[];
  circular: Map<unknown, number> | undefined;
  indentationLvl: number;
  currentDepth: number;
  depth: number;
  showHidden: boolean;
  breakLength: number;
  compact: number;
  maxArrayLength: number;
  maxStringLength: number;
  sorted: boolean;
  getters: boolean;
  customInspect: boolean;
  budget: Record<number, number>;
}

const kObjectType = 0;
const kArrayType = 1;
const kArrayExtrasType = 2;
const kMinLineLength = 16;

export const customInspectSymbol = Symbol.for("nodejs.util.inspect.custom");

const keyStrRegExp = /^[a-zA-Z_][a-zA-Z_0-9]*$/;
const numberRegExp = /^(0|[1-9][0-9]*)$/;
const classRegExp = /^(\s+[^(]*?)\s*{/;
const stripCommentsRegExp = /(\/\/.*?\n)|(\/\*(.|\n)*?\*\/)/g;

// --- the formatter ---

export function inspect(value: unknown, opts?: InspectOptions): string {
  const ctx: Ctx = {
    budget: {},
    indentationLvl: 0,
    seen: [],
    circular: undefined,
    currentDepth: 0,
    depth: 2,
    showHidden: false,
    breakLength: 80,
    compact: 3,
    maxArrayLength: 100,
    maxStringLength: 10000,
    sorted: false,
    getters: false,
    customInspect: true,
  };
  if (opts) {
    if (opts.depth !== undefined) ctx.depth = opts.depth === null ? Infinity : opts.depth;
    if (opts.showHidden !== undefined) ctx.showHidden = opts.showHidden;
    if (opts.breakLength !== undefined) ctx.breakLength = opts.breakLength;
    if (typeof opts.compact === "number") ctx.compact = opts.compact;
    if (opts.maxArrayLength !== undefined) ctx.maxArrayLength = opts.maxArrayLength ?? Infinity;
    if (opts.maxStringLength !== undefined) ctx.maxStringLength = opts.maxStringLength ?? Infinity;
    if (opts.sorted !== undefined) ctx.sorted = opts.sorted;
    if (opts.getters !== undefined) ctx.getters = opts.getters;
    if (opts.customInspect !== undefined) ctx.customInspect = opts.customInspect;
  }
  return formatValue(ctx, value, 0);
}
inspect.custom = customInspectSymbol;

function formatValue(ctx: Ctx, value: unknown, recurseTimes: number, typedArray?: boolean): string {
  if (typeof value !== "object" && typeof value !== "function") return formatPrimitive(value, ctx);
  if (value === null) return "null";
  const object = value as Record<PropertyKey, unknown>;

  if (ctx.customInspect) {
    let maybeCustom: unknown;
    try {
      maybeCustom = object[customInspectSymbol];
    } catch {
      maybeCustom = undefined;
    }
    if (
      typeof maybeCustom === "function" &&
      maybeCustom !== inspect &&
      (Object.getOwnPropertyDescriptor(object, "constructor")?.value as { prototype?: unknown } | undefined)?.prototype !== object
    ) {
      const depth = ctx.depth - recurseTimes;
      const options = { depth, showHidden: ctx.showHidden, breakLength: ctx.breakLength, compact: ctx.compact, colors: false, stylize: (s: string) => s };
      const ret = (maybeCustom as (...args: unknown[]) => unknown).call(object, depth, options, inspect);
      if (ret !== object) {
        if (typeof ret !== "string") return formatValue(ctx, ret, recurseTimes);
        return ret.replaceAll("\n", `\n${" ".repeat(ctx.indentationLvl)}`);
      }
    }
  }

  if (ctx.seen.includes(value)) {
    let index = 1;
    if (ctx.circular === undefined) {
      ctx.circular = new Map([[value, index]]);
    } else {
      const known = ctx.circular.get(value);
      if (known === undefined) {
        index = ctx.circular.size + 1;
        ctx.circular.set(value, index);
      } else {
        index = known;
      }
    }
    return `[Circular *${index}]`;
  }
  return formatRaw(ctx, value, recurseTimes, typedArray);
}

type Formatter = (ctx: Ctx, value: object, recurseTimes: number) => string[];

function formatRaw(ctx: Ctx, value: object, recurseTimes: number, typedArray?: boolean): string {
  let keys: PropertyKey[] = [];
  const constructor = getConstructorName(value);
  let tag = "";
  try {
    const t = (value as Record<PropertyKey, unknown>)[Symbol.toStringTag];
    tag = typeof t === "string" ? t : "";
  } catch {
    // ignore
  }
  if (tag !== "" && (ctx.showHidden ? Object.prototype.hasOwnProperty : Object.prototype.propertyIsEnumerable).call(value, Symbol.toStringTag)) {
    tag = "";
  }
  let base = "";
  let formatter: Formatter = () => [];
  let braces: [string, string] = ["{", "}"];
  let noIterator = true;
  let extrasType = kObjectType;
  let extraKeys: string[] | undefined;

  if (Symbol.iterator in value || constructor === null) {
    noIterator = false;
    const typedName = typedArrayName(value);
    if (Array.isArray(value)) {
      const prefix = constructor !== "Array" || tag !== "" ? getPrefix(constructor, tag, "Array", `(${value.length})`) : "";
      keys = getOwnNonIndexProperties(value, ctx.showHidden);
      braces = [`${prefix}[`, "]"];
      if (value.length === 0 && keys.length === 0) return `${braces[0]}]`;
      extrasType = kArrayExtrasType;
      formatter = formatArray as Formatter;
    } else if (isSet(value)) {
      const size = setSize.call(value) as number;
      const prefix = getPrefix(constructor, tag, "Set", `(${size})`);
      keys = getKeys(value, ctx.showHidden);
      formatter = formatSet as Formatter;
      if (size === 0 && keys.length === 0) return `${prefix}{}`;
      braces = [`${prefix}{`, "}"];
    } else if (isMap(value)) {
      const size = mapSize.call(value) as number;
      const prefix = getPrefix(constructor, tag, "Map", `(${size})`);
      keys = getKeys(value, ctx.showHidden);
      formatter = formatMap as Formatter;
      if (size === 0 && keys.length === 0) return `${prefix}{}`;
      braces = [`${prefix}{`, "}"];
    } else if (typedName !== undefined) {
      keys = getOwnNonIndexProperties(value, ctx.showHidden);
      const size = (value as unknown as { length: number }).length;
      const prefix = getPrefix(constructor, tag, constructor === null ? typedName : "", `(${size})`);
      braces = [`${prefix}[`, "]"];
      if (size === 0 && keys.length === 0 && !ctx.showHidden) return `${braces[0]}]`;
      formatter = formatTypedArray as Formatter;
      extrasType = kArrayExtrasType;
      if (ctx.showHidden) {
        extraKeys = ["BYTES_PER_ELEMENT", "length", "byteLength", "byteOffset", "buffer"];
        typedArray = true;
      }
    } else {
      noIterator = true;
    }
  }
  if (noIterator) {
    keys = getKeys(value, ctx.showHidden);
    braces = ["{", "}"];
    if (typeof value === "function") {
      base = getFunctionBase(ctx, value as (...args: unknown[]) => unknown, constructor, tag);
      if (keys.length === 0) return base;
    } else if (constructor === "Object") {
      if (objectToString.call(value) === "[object Arguments]") braces[0] = "[Arguments] {";
      else if (tag !== "") braces[0] = `${getPrefix(constructor, tag, "Object")}{`;
      if (keys.length === 0) return `${braces[0]}}`;
    } else if (isRegExp(value)) {
      base = RegExp.prototype.toString.call(constructor !== null ? value : new RegExp(value));
      const prefix = getPrefix(constructor, tag, "RegExp");
      if (prefix !== "RegExp ") base = `${prefix}${base}`;
      if (keys.length === 0 || recurseTimes > ctx.depth) return base;
    } else if (isDate(value)) {
      const time = Date.prototype.getTime.call(value);
      base = Number.isNaN(time) ? Date.prototype.toString.call(value) : Date.prototype.toISOString.call(value);
      const prefix = getPrefix(constructor, tag, "Date");
      if (prefix !== "Date ") base = `${prefix}${base}`;
      if (keys.length === 0) return base;
    } else if (isError(value)) {
      base = formatError(value, constructor, tag, ctx, keys);
      if (keys.length === 0) return base;
    } else if (isArrayBuffer(value)) {
      const prefix = getPrefix(constructor, tag, "ArrayBuffer");
      if (typedArray === undefined) formatter = formatArrayBuffer as Formatter;
      else if (keys.length === 0) return `${prefix}{ byteLength: ${value.byteLength} }`;
      braces[0] = `${prefix}{`;
      extraKeys = ["byteLength"];
    } else if (isDataView(value)) {
      braces[0] = `${getPrefix(constructor, tag, "DataView")}{`;
      extraKeys = ["byteLength", "byteOffset", "buffer"];
    } else if (isPromise(value)) {
      braces[0] = `${getPrefix(constructor, tag, "Promise")}{`;
      formatter = () => ["<unknown>"];
    } else if (isWeakSet(value)) {
      braces[0] = `${getPrefix(constructor, tag, "WeakSet")}{`;
      formatter = () => ["<items unknown>"];
    } else if (isWeakMap(value)) {
      braces[0] = `${getPrefix(constructor, tag, "WeakMap")}{`;
      formatter = () => ["<items unknown>"];
    } else {
      const box = boxed(value);
      if (box !== undefined) {
        base = getBoxedBase(box, ctx, keys, constructor, tag);
        if (keys.length === 0) return base;
      } else {
        if (keys.length === 0) return `${getCtxStyle(value, constructor, tag)}{}`;
        braces[0] = `${getCtxStyle(value, constructor, tag)}{`;
      }
    }
  }

  if (recurseTimes > ctx.depth) {
    let constructorName = getCtxStyle(value, constructor, tag).slice(0, -1);
    if (constructor !== null) constructorName = `[${constructorName}]`;
    return constructorName;
  }
  recurseTimes += 1;
  ctx.seen.push(value);
  ctx.currentDepth = recurseTimes;
  let output: string[];
  const indentationLvl = ctx.indentationLvl;
  try {
    output = formatter(ctx, value, recurseTimes);
    if (extraKeys !== undefined) {
      for (const key of extraKeys) output.push(formatExtraProperty(ctx, value, recurseTimes, key, typedArray));
    }
    for (const key of keys) output.push(formatProperty(ctx, value, recurseTimes, key, extrasType));
  } catch (err) {
    if (!(err instanceof RangeError && /call stack/i.test(err.message))) throw err;
    ctx.seen.pop();
    ctx.indentationLvl = indentationLvl;
    const name = getCtxStyle(value, constructor, tag).slice(0, -1);
    return `[${name}: Inspection interrupted prematurely. Maximum call stack size exceeded.]`;
  }
  if (ctx.circular !== undefined) {
    const index = ctx.circular.get(value);
    if (index !== undefined) {
      const reference = `<ref *${index}>`;
      base = base === "" ? reference : `${reference} ${base}`;
    }
  }
  ctx.seen.pop();
  if (ctx.sorted) {
    if (extrasType === kObjectType) output.sort();
    else if (keys.length > 1) {
      const sorted = output.slice(output.length - keys.length).sort();
      output.splice(output.length - keys.length, keys.length, ...sorted);
    }
  }
  const res = reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value);
  const budget = ctx.budget[ctx.indentationLvl] ?? 0;
  const newLength = budget + res.length;
  ctx.budget[ctx.indentationLvl] = newLength;
  // Huge objects: stop descending, as Node does, rather than build a string V8 cannot hold.
  if (newLength > 2 ** 27) ctx.depth = -1;
  return res;
}

function getBoxedBase([type, primitive]: [string, unknown], ctx: Ctx, keys: PropertyKey[], constructor: string | null, tag: string): string {
  if (type === "String") keys.splice(0, (primitive as string).length);
  let base = `[${type}`;
  if (type !== constructor) base += constructor === null ? " (null prototype)" : ` (${constructor})`;
  base += `: ${formatPrimitive(primitive, { ...ctx, compact: 3, indentationLvl: 0, breakLength: Infinity })}]`;
  if (tag !== "" && tag !== constructor) base += ` [${tag}]`;
  return base;
}

function getClassBase(value: object, constructor: string | null, tag: string): string {
  const hasName = Object.prototype.hasOwnProperty.call(value, "name");
  const name = (hasName && (value as { name: unknown }).name) || "(anonymous)";
  let base = `class ${String(name)}`;
  if (constructor !== "Function" && constructor !== null) base += ` [${constructor}]`;
  if (tag !== "" && constructor !== tag) base += ` [${tag}]`;
  if (constructor !== null) {
    const superName = (Object.getPrototypeOf(value) as { name?: unknown }).name;
    if (superName) base += ` extends ${String(superName)}`;
  } else {
    base += " extends [null prototype]";
  }
  return `[${base}]`;
}

function getFunctionBase(ctx: Ctx, value: (...args: unknown[]) => unknown, constructor: string | null, tag: string): string {
  const stringified = Function.prototype.toString.call(value);
  if (stringified.startsWith("class") && stringified.endsWith("}")) {
    const slice = stringified.slice(5, -1);
    const bracketIndex = slice.indexOf("{");
    if (bracketIndex !== -1 && (!slice.slice(0, bracketIndex).includes("(") || classRegExp.test(slice.replace(stripCommentsRegExp, "")))) {
      return getClassBase(value, constructor, tag);
    }
  }
  const kind = objectToString.call(value);
  let type = "Function";
  if (kind === "[object GeneratorFunction]") type = "GeneratorFunction";
  else if (kind === "[object AsyncFunction]") type = "AsyncFunction";
  else if (kind === "[object AsyncGeneratorFunction]") type = "AsyncGeneratorFunction";
  let base = `[${type}`;
  if (constructor === null) base += " (null prototype)";
  if (value.name === "") base += " (anonymous)";
  else base += `: ${typeof value.name === "string" ? value.name : formatValue(ctx, value.name, 0)}`;
  base += "]";
  if (constructor !== type && constructor !== null) base += ` ${constructor}`;
  if (tag !== "" && constructor !== tag) base += ` [${tag}]`;
  return base;
}

function getStackString(error: Error): string {
  let stack: unknown;
  try {
    stack = error.stack;
  } catch {
    // a throwing getter
  }
  if (stack) {
    if (typeof stack === "string") return stack;
    return `${Error.prototype.toString.call(error)}\n    ${inspect(stack)}`;
  }
  return Error.prototype.toString.call(error);
}

function improveStack(stack: string, constructor: string | null, name: string, tag: string): string {
  let len = name.length;
  if (constructor === null || (name.endsWith("Error") && stack.startsWith(name) && (stack.length === len || stack[len] === ":" || stack[len] === "\n"))) {
    let fallback = "Error";
    if (constructor === null) {
      const start = /^([A-Z][a-z_ A-Z0-9[\]()-]+)(?::|\n {4}at)/.exec(stack) || /^([a-z_A-Z0-9-]*Error)$/.exec(stack);
      fallback = start?.[1] || "";
      len = fallback.length;
      fallback ||= "Error";
    }
    const prefix = getPrefix(constructor, tag, fallback).slice(0, -1);
    if (name !== prefix) {
      if (prefix.includes(name)) {
        stack = len === 0 ? `${prefix}: ${stack}` : `${prefix}${stack.slice(len)}`;
      } else {
        stack = `${prefix} [${name}]${stack.slice(len)}`;
      }
    }
  }
  return stack;
}

function formatError(err: Error, constructor: string | null, tag: string, ctx: Ctx, keys: PropertyKey[]): string {
  let stack: string;
  try {
    stack = getStackString(err);
  } catch {
    return objectToString.call(err);
  }
  let message: unknown;
  let name: unknown;
  let messageThrows = false;
  let nameThrows = false;
  try {
    message = err.message;
  } catch {
    messageThrows = true;
  }
  try {
    name = err.name;
  } catch {
    nameThrows = true;
  }
  if (!ctx.showHidden && keys.length !== 0) {
    const drop = (key: string, check: boolean, v: unknown) => {
      const index = keys.indexOf(key);
      if (index !== -1 && check && (typeof v !== "string" || stack.includes(v))) keys.splice(index, 1);
    };
    drop("stack", true, "");
    drop("message", !messageThrows, message);
    drop("name", !nameThrows, name);
  }
  name ??= "Error";
  if (Object.prototype.hasOwnProperty.call(err, "cause") && !keys.includes("cause")) keys.push("cause");
  try {
    const errors = (err as { errors?: unknown }).errors;
    if (Array.isArray(errors) && Object.prototype.hasOwnProperty.call(err, "errors") && !keys.includes("errors")) keys.push("errors");
  } catch {
    // a throwing getter
  }
  stack = improveStack(stack, constructor, String(name), tag);
  let pos = (typeof message === "string" && message !== "" && stack.indexOf(message)) || -1;
  if (pos !== -1) pos += (message as string).length;
  const stackStart = stack.indexOf("\n    at", pos);
  if (stackStart === -1) stack = `[${stack}]`;
  if (ctx.indentationLvl !== 0) stack = stack.replaceAll("\n", `\n${" ".repeat(ctx.indentationLvl)}`);
  return stack;
}

function groupArrayElements(ctx: Ctx, output: string[], value: unknown): string[] {
  let totalLength = 0;
  let maxLength = 0;
  let i = 0;
  let outputLength = output.length;
  if (ctx.maxArrayLength < output.length) outputLength--;
  const separatorSpace = 2;
  const dataLen = new Array<number>(outputLength);
  for (; i < outputLength; i++) {
    const len = output[i]!.length;
    dataLen[i] = len;
    totalLength += len + separatorSpace;
    if (maxLength < len) maxLength = len;
  }
  const actualMax = maxLength + separatorSpace;
  if (actualMax * 3 + ctx.indentationLvl < ctx.breakLength && (totalLength / actualMax > 5 || maxLength <= 6)) {
    const approxCharHeights = 2.5;
    const averageBias = Math.sqrt(actualMax - totalLength / output.length);
    const biasedMax = Math.max(actualMax - 3 - averageBias, 1);
    const columns = Math.min(
      Math.round(Math.sqrt(approxCharHeights * biasedMax * outputLength) / biasedMax),
      Math.floor((ctx.breakLength - ctx.indentationLvl) / actualMax),
      ctx.compact * 4,
      15,
    );
    if (columns <= 1) return output;
    const tmp: string[] = [];
    const maxLineLength: number[] = [];
    for (let c = 0; c < columns; c++) {
      let lineMaxLength = 0;
      for (let j = c; j < output.length; j += columns) {
        if (dataLen[j]! > lineMaxLength) lineMaxLength = dataLen[j]!;
      }
      maxLineLength.push(lineMaxLength + separatorSpace);
    }
    let padStart = true;
    if (value !== undefined) {
      for (let k = 0; k < output.length; k++) {
        const v = (value as unknown[])[k];
        if (typeof v !== "number" && typeof v !== "bigint") {
          padStart = false;
          break;
        }
      }
    }
    for (let r = 0; r < outputLength; r += columns) {
      const max = Math.min(r + columns, outputLength);
      let str = "";
      let j = r;
      for (; j < max - 1; j++) {
        const padding = maxLineLength[j - r]!;
        str += padStart ? `${output[j]}, `.padStart(padding, " ") : `${output[j]}, `.padEnd(padding, " ");
      }
      if (padStart) str += output[j]!.padStart(maxLineLength[j - r]! - separatorSpace, " ");
      else str += output[j];
      tmp.push(str);
    }
    if (ctx.maxArrayLength < output.length) tmp.push(output[outputLength]!);
    output = tmp;
  }
  return output;
}

const remainingText = (remaining: number) => `... ${remaining} more item${remaining > 1 ? "s" : ""}`;

export function formatNumber(n: number): string {
  return Object.is(n, -0) ? "-0" : `${n}`;
}

function formatPrimitive(value: unknown, ctx: Pick<Ctx, "maxStringLength" | "compact" | "breakLength" | "indentationLvl">): string {
  if (typeof value === "string") {
    let trailer = "";
    if (value.length > ctx.maxStringLength) {
      const remaining = value.length - ctx.maxStringLength;
      value = value.slice(0, ctx.maxStringLength);
      trailer = `... ${remaining} more character${remaining > 1 ? "s" : ""}`;
    }
    const s = value as string;
    if (s.length > kMinLineLength && s.length > ctx.breakLength - ctx.indentationLvl - 4) {
      return s.split(/(?<=\n)/).map((line) => strEscape(line)).join(` +\n${" ".repeat(ctx.indentationLvl + 2)}`) + trailer;
    }
    return strEscape(s) + trailer;
  }
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol") return Symbol.prototype.toString.call(value);
  return `${value as string}`;
}

function formatSpecialArray(ctx: Ctx, value: unknown[], recurseTimes: number, maxLength: number, output: string[], i: number): string[] {
  const keys = Object.keys(value);
  let index = i;
  for (; i < keys.length && output.length < maxLength; i++) {
    const key = keys[i]!;
    const tmp = +key;
    if (tmp > 2 ** 32 - 2) break;
    if (`${index}` !== key) {
      if (!numberRegExp.test(key)) break;
      const emptyItems = tmp - index;
      output.push(`<${emptyItems} empty item${emptyItems > 1 ? "s" : ""}>`);
      index = tmp;
      if (output.length === maxLength) break;
    }
    output.push(formatProperty(ctx, value, recurseTimes, key, kArrayType));
    index++;
  }
  const remaining = value.length - index;
  if (output.length !== maxLength) {
    if (remaining > 0) output.push(`<${remaining} empty item${remaining > 1 ? "s" : ""}>`);
  } else if (remaining > 0) {
    output.push(remainingText(remaining));
  }
  return output;
}

function formatArrayBuffer(ctx: Ctx, value: ArrayBuffer): string[] {
  let buffer: Uint8Array;
  try {
    buffer = new Uint8Array(value);
  } catch {
    return ["(detached)"];
  }
  const shown = Math.min(ctx.maxArrayLength, buffer.length);
  let str = "";
  for (let i = 0; i < shown; i++) str += (i === 0 ? "" : " ") + (buffer[i]! + 0x100).toString(16).slice(1);
  const remaining = buffer.length - ctx.maxArrayLength;
  if (remaining > 0) str += ` ... ${remaining} more byte${remaining > 1 ? "s" : ""}`;
  return [`[Uint8Contents]: <${str}>`];
}

function formatArray(ctx: Ctx, value: unknown[], recurseTimes: number): string[] {
  const valLen = value.length;
  const len = Math.min(Math.max(0, ctx.maxArrayLength), valLen);
  const remaining = valLen - len;
  const output: string[] = [];
  for (let i = 0; i < len; i++) {
    const desc = Object.getOwnPropertyDescriptor(value, i);
    if (desc === undefined) return formatSpecialArray(ctx, value, recurseTimes, len, output, i);
    output.push(formatProperty(ctx, value, recurseTimes, i, kArrayType, desc));
  }
  if (remaining > 0) output.push(remainingText(remaining));
  return output;
}

function formatTypedArray(ctx: Ctx, value: ArrayLike<number | bigint>): string[] {
  const length = value.length;
  const maxLength = Math.min(Math.max(0, ctx.maxArrayLength), length);
  const remaining = length - maxLength;
  const output = new Array<string>(maxLength);
  for (let i = 0; i < maxLength; ++i) {
    const v = value[i]!;
    output[i] = typeof v === "number" ? formatNumber(v) : `${v}n`;
  }
  if (remaining > 0) output[maxLength] = remainingText(remaining);
  return output;
}

function formatSet(ctx: Ctx, value: Set<unknown>, recurseTimes: number): string[] {
  const length = setSize.call(value) as number;
  const maxLength = Math.min(Math.max(0, ctx.maxArrayLength), length);
  const output: string[] = [];
  ctx.indentationLvl += 2;
  let i = 0;
  for (const v of Set.prototype.values.call(value)) {
    if (i >= maxLength) break;
    output.push(formatValue(ctx, v, recurseTimes));
    i++;
  }
  if (length - maxLength > 0) output.push(remainingText(length - maxLength));
  ctx.indentationLvl -= 2;
  return output;
}

function formatMap(ctx: Ctx, value: Map<unknown, unknown>, recurseTimes: number): string[] {
  const length = mapSize.call(value) as number;
  const maxLength = Math.min(Math.max(0, ctx.maxArrayLength), length);
  const output: string[] = [];
  ctx.indentationLvl += 2;
  let i = 0;
  for (const [k, v] of Map.prototype.entries.call(value)) {
    if (i >= maxLength) break;
    output.push(`${formatValue(ctx, k, recurseTimes)} => ${formatValue(ctx, v, recurseTimes)}`);
    i++;
  }
  if (length - maxLength > 0) output.push(remainingText(length - maxLength));
  ctx.indentationLvl -= 2;
  return output;
}

function formatExtraProperty(ctx: Ctx, value: object, recurseTimes: number, key: string, typedArray?: boolean): string {
  ctx.indentationLvl += 2;
  const str = formatValue(ctx, (value as Record<string, unknown>)[key], recurseTimes, typedArray);
  ctx.indentationLvl -= 2;
  return `[${key}]: ${str}`;
}

function formatProperty(ctx: Ctx, value: object, recurseTimes: number, key: PropertyKey, type: number, desc?: PropertyDescriptor): string {
  let name: string;
  let str: string;
  desc ??= Object.getOwnPropertyDescriptor(value, key) ?? { value: (value as Record<PropertyKey, unknown>)[key], enumerable: true };
  if (desc.value !== undefined) {
    ctx.indentationLvl += 2;
    str = formatValue(ctx, desc.value, recurseTimes);
    ctx.indentationLvl -= 2;
  } else if (desc.get !== undefined) {
    const label = desc.set !== undefined ? "Getter/Setter" : "Getter";
    if (ctx.getters) {
      ctx.indentationLvl += 2;
      try {
        const tmp: unknown = desc.get.call(value);
        if (tmp === null) str = `[${label}: null]`;
        else if (typeof tmp === "object" || typeof tmp === "function") str = `[${label}] ${formatValue(ctx, tmp, recurseTimes)}`;
        else str = `[${label}: ${formatPrimitive(tmp, ctx)}]`;
      } catch (err) {
        str = `[${label}: <Inspection threw (${formatValue(ctx, err, recurseTimes)})>]`;
      }
      ctx.indentationLvl -= 2;
    } else {
      str = `[${label}]`;
    }
  } else if (desc.set !== undefined) {
    str = "[Setter]";
  } else {
    str = "undefined";
  }
  if (type === kArrayType) return str;
  if (typeof key === "symbol") {
    name = Symbol.prototype.toString.call(key).replace(strEscapeSequencesReplacer, escapeFn);
  } else if (keyStrRegExp.test(String(key))) {
    name = key === "__proto__" ? "['__proto__']" : String(key);
  } else {
    name = strEscape(String(key));
  }
  if (desc.enumerable === false) name = `[${name}]`;
  return `${name}: ${str}`;
}

function isBelowBreakLength(ctx: Ctx, output: string[], start: number, base: string): boolean {
  let totalLength = output.length + start;
  if (totalLength + output.length > ctx.breakLength) return false;
  for (let i = 0; i < output.length; i++) {
    totalLength += output[i]!.length;
    if (totalLength > ctx.breakLength) return false;
  }
  return base === "" || !base.includes("\n");
}

function reduceToSingleString(ctx: Ctx, output: string[], base: string, braces: [string, string], extrasType: number, recurseTimes: number, value?: unknown): string {
  const entries = output.length;
  if (extrasType === kArrayExtrasType && entries > 6) output = groupArrayElements(ctx, output, value);
  if (ctx.currentDepth - recurseTimes < ctx.compact && entries === output.length) {
    const start = output.length + ctx.indentationLvl + braces[0].length + base.length + 10;
    if (isBelowBreakLength(ctx, output, start, base)) {
      const joinedOutput = output.join(", ");
      if (!joinedOutput.includes("\n")) return `${base ? `${base} ` : ""}${braces[0]} ${joinedOutput} ${braces[1]}`;
    }
  }
  const indentation = `\n${" ".repeat(ctx.indentationLvl)}`;
  return `${base ? `${base} ` : ""}${braces[0]}${indentation}  ${output.join(`,${indentation}  `)}${indentation}${braces[1]}`;
}
