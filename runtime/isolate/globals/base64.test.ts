import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestIsolate, type TestIsolate } from "./_test-platform.ts";

let t: TestIsolate;
beforeAll(async () => {
  t = await createTestIsolate();
});
afterAll(() => t.dispose());

const CALL = (fn: string, args: unknown[]) => `
  try { return { value: ${fn}(...${JSON.stringify(args)}) } }
  catch (e) { return { error: e.name, message: e.message, code: e.code, dom: e instanceof DOMException } }`;

function inNode(body: string): unknown {
  return new Function(body)();
}

const ATOB: unknown[][] = [
  [""], ["aGk="], ["aGk"], ["aGVsbG8gd29ybGQ="], ["aGVsbG8gd29ybGQ"], [" aG\tVs\nbG8=\f\r"], ["YQ=="], ["YQ="], ["YQ"],
  ["Y"], ["YQ==="], ["Y=Q="], ["=YQ="], ["YQ==YQ=="], ["YQ= ="], ["ab-_"], ["ab+/"], ["////"], ["\u00ff"], ["é"],
  [undefined], [null], [12345678], ["AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w=="],
  [],
];
const BTOA: unknown[][] = [
  [""], ["hi"], ["h"], ["hello world"], ["\u0000\u00ff\u0080"], ["é"], ["\u0100"], ["😀"], [undefined], [null], [{}], [123], [],
  [Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("")],
];

it.each(ATOB.map((a) => [JSON.stringify(a).slice(0, 40), a]))("atob(...%s) matches Node", async (_n, args) => {
  const body = CALL("atob", args as unknown[]);
  expect(await t.run(body)).toEqual(inNode(body));
});

it.each(BTOA.map((a) => [JSON.stringify(a).slice(0, 40), a]))("btoa(...%s) matches Node", async (_n, args) => {
  const body = CALL("btoa", args as unknown[]);
  expect(await t.run(body)).toEqual(inNode(body));
});

it("round-trips random binary strings of every length up to 64", async () => {
  const body = `
    const out = [];
    for (let n = 0; n <= 64; n++) {
      let s = ""; for (let i = 0; i < n; i++) s += String.fromCharCode((i * 73 + n * 31) & 255);
      out.push(btoa(s), atob(btoa(s)) === s);
    }
    return out;`;
  expect(await t.run(body)).toEqual(inNode(body));
});
