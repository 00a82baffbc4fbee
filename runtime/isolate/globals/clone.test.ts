import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestIsolate, type TestIsolate } from "./_test-platform.ts";

let t: TestIsolate;
beforeAll(async () => {
  t = await createTestIsolate();
});
afterAll(() => t.dispose());

/** Describes a value as plain data (types, prototypes, identity), the same way on both sides. */
const SUMMARIZE = `
  const summarize = (root) => {
    const ids = new Map();
    const walk = (v) => {
      if (typeof v === "bigint") return { bigint: String(v) };
      if (typeof v === "number") return Object.is(v, -0) ? "-0" : Number.isNaN(v) ? "NaN" : v;
      if (v === undefined) return { undefined: true };
      if (v === null || typeof v !== "object") return v;
      if (ids.has(v)) return { ref: ids.get(v) };
      const id = ids.size;
      ids.set(v, id);
      const tag = Object.prototype.toString.call(v);
      const proto = Object.getPrototypeOf(v);
      const out = { id, tag, proto: proto === null ? null : proto.constructor?.name };
      if (v instanceof Date) out.time = walk(v.getTime());
      else if (v instanceof RegExp) Object.assign(out, { source: v.source, flags: v.flags, lastIndex: v.lastIndex });
      else if (v instanceof ArrayBuffer) Object.assign(out, { bytes: [...new Uint8Array(v)], resizable: v.resizable, max: v.maxByteLength });
      else if (ArrayBuffer.isView(v)) Object.assign(out, { buffer: walk(v.buffer), offset: v.byteOffset, length: v.byteLength });
      else if (v instanceof Map) out.entries = [...v].map(([k, x]) => [walk(k), walk(x)]);
      else if (v instanceof Set) out.values = [...v].map(walk);
      else if (v instanceof Error) Object.assign(out, { name: v.name, message: v.message, ownMessage: v instanceof DOMException || Object.hasOwn(v, "message") /* see dom-exception.ts */, stack: typeof v.stack, cause: Object.hasOwn(v, "cause") ? walk(v.cause) : "none", keys: Object.keys(v) });
      else if (["[object Number]", "[object String]", "[object Boolean]", "[object BigInt]"].includes(tag)) out.value = walk(v.valueOf());
      if (Array.isArray(v)) out.length = v.length;
      if (!(v instanceof Error)) out.props = Object.keys(v).map((k) => [k, walk(v[k])]);
      return out;
    };
    return walk(root);
  };
`;

const CASE = (expr: string) => `${SUMMARIZE}
  try { return { clone: summarize(structuredClone(${expr})) } }
  catch (e) { return { error: e.name, message: e.message, dom: e instanceof DOMException } }`;

function inNode(body: string): unknown {
  return new Function(body)();
}

const VALUES = [
  `1`, `-0`, `NaN`, `"text"`, `10n`, `true`, `null`, `undefined`,
  `{ a: 1, b: { c: [1, "two", null, undefined] } }`,
  `(() => { const a = { name: "a" }; a.self = a; a.list = [a, { a }]; return a; })()`,
  `(() => { const shared = { s: 1 }; return [shared, shared, { shared }]; })()`,
  `Object.assign([1, , 3], { extra: "x" })`,
  `new Array(3)`,
  `new Date(1234567890123)`,
  `new Date(NaN)`,
  `Object.assign(/ab+c/gimsuy, { lastIndex: 3 })`,
  `new Map([[{ k: 1 }, new Set([1, 2])], ["x", new Map()]])`,
  `new Set([1, "1", { one: 1 }])`,
  `new Uint8Array([1, 2, 3]).buffer`,
  `(() => { const buf = new ArrayBuffer(8); return [new Uint8Array(buf, 2, 4), new Uint16Array(buf, 4, 2), new DataView(buf, 1, 3), buf]; })()`,
  `new Float64Array([-0, NaN, 1.5])`,
  `new BigUint64Array([1n, 2n ** 64n - 1n])`,
  `new ArrayBuffer(4, { maxByteLength: 16 })`,
  `[new Number(-0), new String("s"), new Boolean(false), Object(5n)]`,
  `new Error("plain")`,
  `new TypeError("typed", { cause: { why: "because" } })`,
  `Object.assign(new RangeError("with props"), { code: "E_X" })`,
  `(() => { const e = new Error("named"); e.name = "MyError"; return e; })()`,
  `(() => { const e = new SyntaxError("x"); delete e.message; return e; })()`,
  `new DOMException("gone", "AbortError")`,
  `(() => { class Point { constructor() { this.x = 1; } get y() { return 2; } } return new Point(); })()`,
  `Object.assign(Object.create(null), { a: 1 })`,
  `{ get computed() { return 42; }, [Symbol("hidden")]: 1 }`,
  `Object.defineProperty({ visible: 1 }, "hidden", { value: 2, enumerable: false })`,
  `(function () { return arguments; })(1, 2)`,
  `() => {}`,
  `Symbol("s")`,
  `{ f() {} }`,
  `{ nested: [Symbol.iterator] }`,
  `Promise.resolve(1)`,
  `new WeakMap()`,
  `new WeakSet()`,
];

it.each(VALUES)("structuredClone(%s) matches Node", async (expr) => {
  const body = CASE(expr);
  expect(await t.run(body)).toEqual(inNode(body));
});

it("transfers ArrayBuffers: the original is detached, the clone keeps the bytes", async () => {
  const body = `
    const buf = new Uint8Array([1, 2, 3]).buffer;
    const view = new Uint8Array(buf);
    const out = structuredClone({ view }, { transfer: [buf] });
    const errors = [];
    for (const transfer of [[buf], [{}], [new ArrayBuffer(1), "x"]]) {
      try { structuredClone(1, { transfer }) } catch (e) { errors.push(e.name) }
    }
    const dup = new ArrayBuffer(1);
    try { structuredClone(1, { transfer: [dup, dup] }) } catch (e) { errors.push(e.name) }
    return [buf.byteLength, buf.detached, [...out.view], out.view.buffer.byteLength, errors];`;
  expect(await t.run(body)).toEqual(inNode(body));
});

it("throws a TypeError without an argument, as Node does", async () => {
  const body = `try { structuredClone() } catch (e) { return e.name }`;
  expect(await t.run(body)).toEqual(inNode(body));
});
