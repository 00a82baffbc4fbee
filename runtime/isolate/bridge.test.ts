import ivm from "isolated-vm";
import { afterEach, describe, expect, it } from "vitest";
import { createBridge, MAX_LOG_CHARS, MAX_TIMERS, type Bridge, type BridgeOptions } from "./bridge.ts";
import { HOST_GLOBALS } from "./wire.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const noNetwork = () => Promise.reject(new Error("no network"));

interface Harness {
  bridge: Bridge;
  context: ivm.Context;
  fired: number[];
  logs: string[];
  /** Runs code in a bare context that has only the host globals. */
  run(code: string): Promise<unknown>;
}

const open: (() => void)[] = [];
afterEach(() => {
  for (const close of open.splice(0)) close();
});

async function harness(options: Partial<BridgeOptions> = {}): Promise<Harness> {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  const context = await isolate.createContext();
  const fired: number[] = [];
  const logs: string[] = [];
  const bridge = createBridge({
    service: "hello",
    log: (level, requestId, message) => logs.push(`${level}|${requestId}|${message}`),
    fetch: noNetwork,
    callService: noNetwork,
    fireTimer: (id) => fired.push(id),
    ...options,
  });
  for (const [name, value] of Object.entries(bridge.globals)) await context.global.set(name, value);
  open.push(() => {
    bridge.dispose();
    isolate.dispose();
  });
  return { bridge, context, fired, logs, run: (code) => context.eval(code, { copy: true }) };
}

describe("createBridge", () => {
  it("provides every HOST_GLOBALS name, with the kind wire.ts gives it", async () => {
    const { bridge } = await harness();
    expect(Object.keys(bridge.globals).sort()).toEqual(Object.values(HOST_GLOBALS).sort());
    for (const name of ["subtle", "fetch", "service"] as const) expect(bridge.globals[HOST_GLOBALS[name]]).toBeInstanceOf(ivm.Reference);
    for (const name of ["log", "random", "domainToASCII", "textDecode", "setTimer", "clearTimer"] as const) {
      expect(bridge.globals[HOST_GLOBALS[name]]).toBeInstanceOf(ivm.Callback);
    }
  });

  it("timers fire in order of their delay, then of setting; cleared ones never fire", async () => {
    const h = await harness();
    await h.run(`
      const set = ${HOST_GLOBALS.setTimer}, clear = ${HOST_GLOBALS.clearTimer};
      set(1, 30); set(2, 10); set(3, 10); set(4, 0); set(5, 20); clear(5); set(6, -5); set(7, NaN);`);
    await sleep(80);
    expect(h.fired).toEqual([4, 6, 7, 2, 3, 1]);
  });

  it("setting an id again re-arms it instead of adding a second timer", async () => {
    const h = await harness();
    await h.run(`${HOST_GLOBALS.setTimer}(1, 10); ${HOST_GLOBALS.setTimer}(1, 20);`);
    await sleep(60);
    expect(h.fired).toEqual([1]);
  });

  it("dispose clears pending timers and answers later calls with nothing", async () => {
    const h = await harness();
    await h.run(`${HOST_GLOBALS.setTimer}(1, 20); ${HOST_GLOBALS.setTimer}(2, 25);`);
    await sleep(5);
    h.bridge.dispose();
    await sleep(50);
    expect(h.fired).toEqual([]);
    expect(await h.bridge.subtle("digest", ["SHA-256", new Uint8Array(1)])).toEqual({
      ok: false,
      name: "OperationError",
      message: "The function's isolate was disposed",
    });
  });

  it(`caps pending timers at ${MAX_TIMERS} per isolate and says so once`, async () => {
    const h = await harness();
    await h.run(`for (let i = 1; i <= ${MAX_TIMERS + 5}; i++) ${HOST_GLOBALS.setTimer}(i, 60000);`);
    await sleep(20);
    expect(h.logs).toEqual([`error||edgefn: service hello has ${MAX_TIMERS} pending timers; further timers are dropped`]);
  });

  it("log passes level and request id, and cuts overlong lines", async () => {
    const h = await harness();
    await h.run(`${HOST_GLOBALS.log}("warn", "req-1", "careful"); ${HOST_GLOBALS.log}("bogus", "req-2", "x".repeat(${MAX_LOG_CHARS + 10}));`);
    await sleep(10);
    expect(h.logs[0]).toBe("warn|req-1|careful");
    expect(h.logs[1]).toBe(`info|req-2|${"x".repeat(MAX_LOG_CHARS)}… [10 more characters cut]`);
  });

  it("random returns fresh bytes of the asked length, at most 65536", async () => {
    const h = await harness();
    const got = (await h.run(`const r = ${HOST_GLOBALS.random}; [r(16).length, r(16).buffer.byteLength, r(65536).length]`)) as number[];
    expect(got).toEqual([16, 16, 65536]);
    await expect(h.run(`${HOST_GLOBALS.random}(65537)`)).rejects.toThrow(/65536/);
  });

  it("domainToASCII and textDecode use Node's", async () => {
    const h = await harness();
    const got = await h.run(`[${HOST_GLOBALS.domainToASCII}("Bücher.example"), ${HOST_GLOBALS.domainToASCII}("xn--a.b%"), ${HOST_GLOBALS.textDecode}(new Uint8Array([0x82, 0xa0]), "shift_jis", false)]`);
    expect(got).toEqual(["xn--bcher-kva.example", "", "あ"]);
    await expect(h.run(`${HOST_GLOBALS.textDecode}(new Uint8Array([0xff, 0xff]), "euc-kr", true)`)).rejects.toThrow();
  });
});

describe("bridge.subtle", () => {
  it("keeps keys by id, and forgets released ones", async () => {
    const { bridge } = await harness();
    const made = (await bridge.subtle("importKey", ["raw", new Uint8Array(16), { name: "AES-GCM" }, true, ["encrypt"]])) as {
      ok: true;
      value: { id: number; type: string; algorithm: object; usages: string[]; extractable: boolean };
    };
    expect(made.ok).toBe(true);
    expect(made.value).toMatchObject({ type: "secret", algorithm: { name: "AES-GCM", length: 128 }, usages: ["encrypt"], extractable: true });
    const exported = (await bridge.subtle("exportKey", ["raw", made.value.id])) as { ok: true; value: ArrayBuffer };
    expect(new Uint8Array(exported.value)).toEqual(new Uint8Array(16));
    expect(await bridge.subtle("release", [[made.value.id]])).toEqual({ ok: true, value: undefined });
    expect(await bridge.subtle("exportKey", ["raw", made.value.id])).toEqual({
      ok: false,
      name: "InvalidAccessError",
      message: "The key is not known to this isolate",
    });
  });

  it("turns failures into data that keeps Node's error name", async () => {
    const { bridge } = await harness();
    expect(await bridge.subtle("digest", ["MD5", new Uint8Array(1)])).toMatchObject({ ok: false, name: "NotSupportedError" });
    expect(await bridge.subtle("frobnicate", [])).toEqual({ ok: false, name: "NotSupportedError", message: "Unknown operation: frobnicate" });
  });
});
