import { Console } from "node:console";
import { Writable } from "node:stream";
import { format } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestIsolate, type TestIsolate } from "./_test-platform.ts";

let t: TestIsolate;
beforeAll(async () => {
  t = await createTestIsolate();
});
afterAll(() => t.dispose());
beforeEach(() => {
  t.logs.length = 0;
});

/** Errors get a fixed stack, since V8 frames differ between Node and the isolate. */
const PRELUDE = `
  const err = (message, props) => Object.assign(new Error(message), { stack: "Error: " + message + "\\n    at handler (index.ts:1:1)\\n    at run (index.ts:2:2)" }, props);
  const cyclic = () => { const a = { name: "a" }; a.self = a; a.list = [a, { a }]; return a; };
  class Point { constructor() { this.x = 1; this.y = 2; } }
  class Tagged { get [Symbol.toStringTag]() { return "Tag"; } }
  class Sub extends Point {}
`;

// Each entry is the argument list of one console.log call, as source.
const FORMAT_CASES = [
  `"hello"`,
  `"a %s b", "x"`,
  `"%s|%s|%s|%s", 42, -0, 10n, Symbol("s")`,
  `"%s|%s|%s", null, undefined, true`,
  `"%s", { a: 1, b: { c: { d: 1 } } }`,
  `"%s", [1, [2, [3, [4]]]]`,
  `"%s", new Date(0)`,
  `"%s", { toString() { return "custom" } }`,
  `"%s", new Point()`,
  `"%s", err("in s")`,
  `"%d|%d|%d|%d|%d", "42", 1.5, 10n, Symbol(), {}`,
  `"%i|%i|%i", "42.9px", -0.5, 10n`,
  `"%f|%f|%f", "1.5e3", "x", -0`,
  `"%j", { a: [1, "x", null], u: undefined }`,
  `"%j", cyclic()`,
  `"%o", { a: 1, b: [1, 2] }`,
  `"%O", { a: { b: { c: { d: { e: 1 } } } } }`,
  `"%c styled", "color: red"`,
  `"100%% sure %s", "yes"`,
  `"%s %s", "only one"`,
  `"%x %s", 1`,
  `"%"`,
  `"trailing %", 1`,
  `1, 2, 3`,
  `{ a: 1 }, "str", 3`,
  `null, undefined, NaN, -0, Infinity, 12345678901234567890n`,
  `"a\\nb", ["a\\nb", "it's", 'say "hi"', "both ' and \\"", "all ' \\" \`"]`,
  `["\\u0000\\u001f\\u007f\\u0085", "\\ud800", "😀", "tab\\there"]`,
  `{ "key-with-dash": 1, valid_id: 2, "0": 3, "__proto__x": 4, [Symbol("sym")]: 5, "": 6 }`,
  `{ ["__proto__"]: 1 }`,
  `{ get g() { return 1 }, set s(v) {}, get gs() { return 1 }, set gs(v) {} }`,
  `[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]`,
  `Array.from({ length: 30 }, (_, i) => i * 37)`,
  `Array.from({ length: 120 }, (_, i) => i)`,
  `Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i).repeat(i % 5 + 1))`,
  `[1, , 3, , , 6]`,
  `new Array(5)`,
  `Object.assign([1, 2], { extra: true })`,
  `[[1, [2, [3, [4, [5]]]]]]`,
  `{ a: { b: { c: { d: { e: 1 } } } } }`,
  `{ first: [1, 2, 3], second: { inner: [1, 2, 3] } }`,
  `{ alpha: "a".repeat(30), beta: "b".repeat(30), gamma: "c".repeat(30) }`,
  `{ long: "line one\\nline two\\nline three and more text to pass the break length limit of eighty chars" }`,
  `"x".repeat(100)`,
  `["x".repeat(100)]`,
  `new Map([["a", 1], [{ k: 1 }, [1, 2]]])`,
  `new Set([1, "two", [3]])`,
  `new Map(), new Set(), {}, []`,
  `{ m: new Map([[1, new Map([[2, new Map([[3, 4]])]])]]) }`,
  `new Date(0), new Date(NaN)`,
  `/ab+c/gi, Object.assign(/x/, { extra: 1 })`,
  `function named() {}, function () {}, () => {}, async function af() {}, function* gen() {}, async () => {}`,
  `class A {}, class extends Point {}, Sub, Point`,
  `Object.assign(function withProps() {}, { a: 1 })`,
  `new Number(-0), new String("str"), new Boolean(false), Object(1n), Object(Symbol("s"))`,
  `Object.create(null), Object.assign(Object.create(null), { a: 1 })`,
  `new Point(), new Sub(), new Tagged()`,
  `{ [Symbol.toStringTag]: "Own" }`,
  `new Uint8Array([1, 2, 3]), new Float64Array([-0, 1.5, NaN]), new BigInt64Array([1n, -1n]), new Uint8Array(0)`,
  `new Uint8Array(200)`,
  `new ArrayBuffer(4), new Uint8Array([1, 2, 255]).buffer, new DataView(new ArrayBuffer(2))`,
  `cyclic()`,
  `(() => { const a = { x: 1 }; const b = { a, y: 2 }; a.b = b; return [a, b]; })()`,
  `err("plain")`,
  `err("with props", { code: "E_CODE", status: 500 })`,
  `{ nested: err("nested") }`,
  `err("outer", { cause: err("inner") })`,
  `Object.assign(new TypeError("no stack"), { stack: undefined })`,
  `Object.assign(new RangeError("bad range"), { stack: "RangeError: bad range\\n    at x (a.js:1:1)" })`,
  `new WeakMap(), new WeakSet()`,
  `{ [Symbol.for("nodejs.util.inspect.custom")]() { return "CUSTOM"; } }`,
  `{ [Symbol.for("nodejs.util.inspect.custom")]() { return { replaced: true }; } }`,
  `{ a: 1, b: "two", c: [3], d: { e: null }, f: undefined, g: () => 1 }`,
  `Array.from({ length: 8 }, (_, i) => ({ id: i, name: "item" + i }))`,
  `{ arr: Array.from({ length: 8 }, (_, i) => i), str: "s" }`,
  `(function () { return arguments; })(1, 2)`,
];

describe("console.log formats as Node's util.format", () => {
  it.each(FORMAT_CASES)("console.log(%s)", async (args) => {
    await t.run(`${PRELUDE}\nconsole.log(${args});`);
    const expected = format(...(new Function(`${PRELUDE}\nreturn [${args}];`)() as unknown[]));
    expect(t.logs.at(-1)?.message).toBe(expected);
  });
});

/** Runs the same console calls against Node's Console, writing to a string. */
function nodeConsole(body: string): string[] {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString().replace(/\n$/, ""));
      done();
    },
  });
  const console = new Console({ stdout: sink, stderr: sink, colorMode: false });
  new Function("console", `${PRELUDE}\n${body}`)(console);
  return lines;
}

describe("console methods match Node's Console", () => {
  const CASES: [string, string][] = [
    ["assert", `console.assert(true, "no"); console.assert(false, "failed %s", "here"); console.assert(0, { a: 1 }); console.assert(false);`],
    ["count", `console.count(); console.count(); console.count("x"); console.countReset(); console.count();`],
    ["group", `console.log("top"); console.group("g1"); console.log("in\\ntwo lines"); console.group(); console.info({ a: 1 }); console.groupEnd(); console.groupEnd(); console.groupEnd(); console.log("out");`],
    ["dir", `console.dir({ a: { b: { c: { d: 1 } } } }); console.dir({ a: { b: { c: { d: 1 } } } }, { depth: 0 }); console.dir({ [Symbol.for("nodejs.util.inspect.custom")]() { return "C" } });`],
    ["table of objects", `console.table([{ a: 1, b: "x" }, { a: 2, c: true }]);`],
    ["table of primitives", `console.table(["apple", "banana", 3]);`],
    ["table with columns", `console.table([{ a: 1, b: 2 }, { a: 3, b: 4 }], ["b"]);`],
    ["table of an object", `console.table({ r1: { c: 1 }, r2: { c: [1, 2, 3, 4] }, r3: 5 });`],
    ["table of Map and Set", `console.table(new Map([["k", { v: 1 }]])); console.table(new Set(["s"]));`],
    ["table of a primitive", `console.table("just text"); console.table(null);`],
  ];
  it.each(CASES)("%s", async (_name, body) => {
    await t.run(`${PRELUDE}\n${body}`);
    expect(t.logs.map((l) => l.message)).toEqual(nodeConsole(body));
  });

  it("maps methods to levels and tags lines with the current request", async () => {
    await t.run(`console.log(1); console.info(2); console.debug(3); console.warn(4); console.error(5); console.trace("t"); console.assert(false);`);
    expect(t.logs.map((l) => l.level)).toEqual(["info", "info", "debug", "warn", "error", "error", "warn"]);
    expect(t.logs[5]!.message).toMatch(/^Trace: t\n {4}at /);
  });

  it("time and timeEnd print a duration, and warn about unknown labels", async () => {
    await t.run(`console.time("x"); console.timeLog("x", "mid"); console.timeEnd("x"); console.timeEnd("x"); console.time(); console.time();`);
    const messages = t.logs.map((l) => l.message);
    expect(messages[0]).toMatch(/^x: \d+(\.\d+)?ms mid$/);
    expect(messages[1]).toMatch(/^x: \d+(\.\d+)?ms$/);
    expect(messages[2]).toBe("Warning: No such label 'x' for console.timeEnd()");
    expect(messages[3]).toBe("Warning: Label 'default' already exists for console.time()");
  });

  it("logs a note instead of throwing when arguments cannot be formatted", async () => {
    await t.run(`
      const { proxy, revoke } = Proxy.revocable({}, {}); revoke();
      console.log("before", proxy);
      console.log("%s", { toString() { throw new RangeError("no string") } });`);
    expect(t.logs.map((l) => l.message)).toEqual([
      "[console: could not format the arguments: TypeError: Cannot perform 'getOwnPropertyDescriptor' on a proxy that has been revoked]",
      "[console: could not format the arguments: RangeError: no string]",
    ]);
  });

  it("survives hostile values: throwing getters, toString and huge depth", async () => {
    await t.run(`
      const hostile = { get boom() { throw new Error("getter") }, toString() { throw new Error("ts") } };
      let deep = {}; for (let i = 0; i < 10000; i++) deep = { deep };
      console.log(hostile, deep);
      console.log("%s", Object.create(null));`);
    expect(t.logs.map((l) => l.message)).toEqual(["{ boom: [Getter], toString: [Function: toString] } { deep: { deep: { deep: [Object] } } }", "[Object: null prototype] {}"]);
  });
});
