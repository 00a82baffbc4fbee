import ivm from "isolated-vm";
import { afterEach, describe, expect, it } from "vitest";
import { createBridge, MAX_LOG_CHARS, MAX_TIMERS, type Bridge, type BridgeOptions } from "./bridge.ts";
import { HOST_GLOBALS, type RequestWire, type ResponseWire } from "./wire.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const noNetwork = () => Promise.reject(new Error("no network"));
const REQUEST: RequestWire = { method: "GET", url: "https://example.com/", headers: [], body: null };
const RESPONSE: ResponseWire = { status: 200, statusText: "OK", headers: [["x-a", "1"]], body: null, stream: null };

interface Completion {
  ok: boolean;
  value: unknown;
}

interface Harness {
  bridge: Bridge;
  context: ivm.Context;
  fired: number[];
  logs: string[];
  /** Every `complete` the bridge made, by call id. */
  completed: Map<number, Completion>;
  /** Runs code in a bare context that has only the host globals. */
  run(code: string): Promise<unknown>;
  /** Starts an async host call from inside the context; resolves with how the bridge completed it. */
  call(name: "subtle" | "fetch" | "service", ...args: unknown[]): Promise<Completion>;
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
  const completed = new Map<number, Completion>();
  const waiting = new Map<number, (completion: Completion) => void>();
  const bridge = createBridge({
    service: "hello",
    logLevel: "debug",
    log: (level, requestId, message) => logs.push(`${level}|${requestId}|${message}`),
    fetch: noNetwork,
    callService: noNetwork,
    fireTimer: (id) => fired.push(id),
    complete: (callId, ok, value) => {
      completed.set(callId, { ok, value });
      waiting.get(callId)?.({ ok, value });
    },
    ...options,
  });
  for (const [name, value] of Object.entries(bridge.globals)) await context.global.set(name, value);
  open.push(() => {
    bridge.dispose();
    isolate.dispose();
  });
  let nextCallId = 1;
  return {
    bridge,
    context,
    fired,
    logs,
    completed,
    run: (code) => context.eval(code, { copy: true }),
    async call(name, ...args) {
      const callId = nextCallId++;
      const done = new Promise<Completion>((resolve) => waiting.set(callId, resolve));
      const started = await context.evalClosure(`return ${HOST_GLOBALS[name]}($0, ...$1)`, [callId, args], { arguments: { copy: true }, result: { copy: true } });
      expect(started).toBeUndefined(); // async globals answer only through complete
      return done;
    },
  };
}

describe("createBridge", () => {
  it("provides every HOST_GLOBALS name, with the kind wire.ts gives it", async () => {
    const { bridge } = await harness({ logLevel: "warn" });
    expect(Object.keys(bridge.globals).sort()).toEqual(Object.values(HOST_GLOBALS).sort());
    for (const name of ["log", "random", "domainToASCII", "textDecode", "subtle", "fetch", "service", "setTimer", "clearTimer"] as const) {
      expect(bridge.globals[HOST_GLOBALS[name]]).toBeInstanceOf(ivm.Callback);
    }
    expect(bridge.globals[HOST_GLOBALS.logLevel]).toBe("warn");
  });

  it("answers fetch and service through complete, with the call id and the value", async () => {
    const seen: unknown[] = [];
    const h = await harness({
      fetch: async (request, requestId) => {
        seen.push(["fetch", request.url, requestId]);
        return RESPONSE;
      },
      callService: async (target, request, requestId) => {
        seen.push(["service", target, request.method, requestId]);
        return { ...RESPONSE, status: 201 };
      },
    });
    expect(await h.call("fetch", REQUEST, "req-1")).toEqual({ ok: true, value: RESPONSE });
    expect(await h.call("service", "orders", REQUEST, "req-2")).toEqual({ ok: true, value: { ...RESPONSE, status: 201 } });
    expect(seen).toEqual([
      ["fetch", "https://example.com/", "req-1"],
      ["service", "orders", "GET", "req-2"],
    ]);
    expect([...h.completed.keys()]).toEqual([1, 2]);
  });

  it("answers failures as { name, message }, plain Errors and non-Errors as TypeError, synchronous throws too", async () => {
    const h = await harness({
      fetch: () => Promise.reject(new Error("fetch to evil.example:443 is not allowed")),
      callService: (target) => {
        if (target === "sync") throw new RangeError("thrown before any promise");
        return Promise.reject("a string");
      },
    });
    expect(await h.call("fetch", REQUEST, "r")).toEqual({ ok: false, value: { name: "TypeError", message: "fetch to evil.example:443 is not allowed" } });
    expect(await h.call("service", "sync", REQUEST, "r")).toEqual({ ok: false, value: { name: "RangeError", message: "thrown before any promise" } });
    expect(await h.call("service", "other", REQUEST, "r")).toEqual({ ok: false, value: { name: "TypeError", message: "a string" } });
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

  it("dispose clears pending timers and answers calls in flight, and later ones, with nothing", async () => {
    let answer: ((response: ResponseWire) => void) | undefined;
    const h = await harness({ fetch: () => new Promise((resolve) => (answer = resolve)) });
    await h.run(`${HOST_GLOBALS.setTimer}(1, 20); ${HOST_GLOBALS.setTimer}(2, 25);`);
    void h.call("fetch", REQUEST, "r");
    await sleep(5);
    h.bridge.dispose();
    answer?.(RESPONSE);
    void h.call("subtle", "digest", ["SHA-256", new Uint8Array(1)]);
    await sleep(50);
    expect(h.fired).toEqual([]);
    expect(h.completed.size).toBe(0);
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

describe("the subtle host global", () => {
  /** A subtle call's result: it always completes ok, with { ok, value } or { ok: false, name, message } as data. */
  const subtle = async (h: Harness, op: string, args: unknown[]) => {
    const completion = await h.call("subtle", op, args);
    expect(completion.ok).toBe(true);
    return completion.value;
  };

  it("keeps keys by id, and forgets released ones", async () => {
    const h = await harness();
    const made = (await subtle(h, "importKey", ["raw", new Uint8Array(16), { name: "AES-GCM" }, true, ["encrypt"]])) as {
      ok: true;
      value: { id: number; type: string; algorithm: object; usages: string[]; extractable: boolean };
    };
    expect(made.ok).toBe(true);
    expect(made.value).toMatchObject({ type: "secret", algorithm: { name: "AES-GCM", length: 128 }, usages: ["encrypt"], extractable: true });
    const exported = (await subtle(h, "exportKey", ["raw", made.value.id])) as { ok: true; value: ArrayBuffer };
    expect(new Uint8Array(exported.value)).toEqual(new Uint8Array(16));
    expect(await subtle(h, "release", [[made.value.id]])).toEqual({ ok: true, value: undefined });
    expect(await subtle(h, "exportKey", ["raw", made.value.id])).toEqual({
      ok: false,
      name: "InvalidAccessError",
      message: "The key is not known to this isolate",
    });
  });

  it("turns failures into data that keeps Node's error name", async () => {
    const h = await harness();
    expect(await subtle(h, "digest", ["MD5", new Uint8Array(1)])).toMatchObject({ ok: false, name: "NotSupportedError" });
    expect(await subtle(h, "frobnicate", [])).toEqual({ ok: false, name: "NotSupportedError", message: "Unknown operation: frobnicate" });
  });
});
