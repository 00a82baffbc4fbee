import ivm from "isolated-vm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createBridge } from "../bridge.ts";
import { HOST_GLOBALS } from "../wire.ts";
import { createTestIsolate, platformScript, type TestIsolate } from "./_test-platform.ts";

let t: TestIsolate;
beforeAll(async () => {
  t = await createTestIsolate();
});
afterAll(() => t.dispose());

const INSTALLED = [
  "AbortController", "AbortSignal", "Crypto", "CryptoKey", "CustomEvent", "DOMException", "Event", "EventTarget",
  "Navigator", "Performance", "SubtleCrypto", "TextDecoder", "TextEncoder", "atob", "btoa", "clearInterval",
  "clearTimeout", "crypto", "navigator", "performance", "queueMicrotask", "self", "setInterval", "setTimeout",
  "structuredClone",
];

it("adds only the Web APIs, removes WebAssembly and leaves no host globals behind", async () => {
  const bare = new ivm.Isolate({ memoryLimit: 16 });
  const before = (await (await bare.createContext()).eval("Object.getOwnPropertyNames(globalThis)", { copy: true })) as string[];
  bare.dispose();
  const after = await t.run<string[]>("return Object.getOwnPropertyNames(globalThis)");
  expect(after.filter((name) => !before.includes(name)).sort()).toEqual([...INSTALLED].sort());
  expect(before.filter((name) => !after.includes(name))).toEqual(["WebAssembly"]);
  for (const name of Object.values(HOST_GLOBALS)) expect(after).not.toContain(name);
  expect(await t.run(`return [typeof process, typeof require, typeof module, typeof Buffer, typeof WebAssembly, typeof global]`)).toEqual(
    Array(6).fill("undefined"),
  );
});

it("keeps eval and Function, which stay inside the isolate", async () => {
  expect(await t.run(`return [eval("1 + 1"), new Function("return this")() === globalThis]`)).toEqual([2, true]);
});

it("has Worker-like aliases: self, navigator, performance", async () => {
  const got = await t.run<[boolean, string, number, boolean, boolean, boolean]>(`
    const a = performance.now(); let spin = Date.now(); while (Date.now() - spin < 3) {}
    const b = performance.now();
    return [self === globalThis, navigator.userAgent, navigator.hardwareConcurrency, Number.isInteger(a) && Number.isInteger(b), b >= a, performance.timeOrigin <= Date.now()];`);
  expect(got).toEqual([true, "edgefn", 1, true, true, true]);
});

it("globals are writable and configurable but not enumerable, as WebIDL defines them", async () => {
  const got = await t.run(`
    const d = Object.getOwnPropertyDescriptor(globalThis, "TextEncoder");
    return [d.writable, d.configurable, d.enumerable, Object.keys(globalThis), TextDecoder.name, String(crypto)];`);
  expect(got).toEqual([true, true, false, [], "TextDecoder", "[object Crypto]"]);
});

it("costs little per context: script size, evaluation time and heap", async () => {
  const code = await platformScript();
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  // isolated-vm's types leave out the cachedData it sets on the returned script.
  const produced = isolate.compileScriptSync(code, { produceCachedData: true }) as ivm.Script & { cachedData?: ivm.ExternalCopy<ArrayBuffer> };
  const cachedData = produced.cachedData!;
  const runs: { ms: number; heapKb: number }[] = [];
  for (let i = 0; i < 15; i++) {
    const script = isolate.compileScriptSync(code, { cachedData });
    const context = isolate.createContextSync();
    const bridge = createBridge({
      service: "cost",
      logLevel: "debug",
      log: () => {},
      fireTimer: () => {},
      fetch: () => Promise.reject(new Error()),
      callService: () => Promise.reject(new Error()),
      complete: () => {},
    });
    for (const [name, value] of Object.entries(bridge.globals)) context.global.setSync(name, value);
    const heap0 = isolate.getHeapStatisticsSync().used_heap_size;
    const start = process.hrtime.bigint();
    script.runSync(context);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    runs.push({ ms, heapKb: (isolate.getHeapStatisticsSync().used_heap_size - heap0) / 1024 });
    bridge.dispose();
    context.release();
  }
  isolate.dispose();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  // The fastest run is the best estimate of the script's own cost on a busy machine.
  const ms = Math.min(...runs.slice(5).map((r) => r.ms));
  const heapKb = median(runs.slice(5).map((r) => r.heapKb));
  // Reported for the record; the bounds are loose because CI machines are noisy.
  console.info(`platform script: ${(code.length / 1024).toFixed(1)} KiB, eval ${ms.toFixed(3)} ms, heap +${heapKb.toFixed(0)} KiB per context`);
  expect(code.length).toBeLessThan(80 * 1024);
  expect(ms).toBeLessThan(5);
  expect(heapKb).toBeLessThan(1024);
});
