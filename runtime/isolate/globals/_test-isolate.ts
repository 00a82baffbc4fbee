/**
 * Test helper: a real isolate with the globals script, without the runtime's sandbox. Host
 * functions are the bridge's; tests replace fetch/service as they need.
 */
import ivm from "isolated-vm";
import { createBridge } from "../bridge.ts";
import { globalsScript } from "../globals-script.ts";
import type { ContextWire, EnvWire, RequestWire, ResponseWire } from "../wire.ts";

export interface LogLine {
  level: string;
  requestId: string;
  message: string;
}

export interface TestHostOptions {
  fetch?: (request: RequestWire, requestId: string) => Promise<ResponseWire>;
  service?: (target: string, request: RequestWire, requestId: string) => Promise<ResponseWire>;
  memoryLimit?: number;
}

export interface TestIsolate {
  isolate: ivm.Isolate;
  context: ivm.Context;
  logs: LogLine[];
  /** Runs `code` as the body of an async function in the context; the result is copied out. */
  run<T = unknown>(code: string): Promise<T>;
  /** Evaluates an ES module (a user bundle) and hands its default export to setHandler. */
  load(code: string): Promise<void>;
  dispatch(request: RequestWire, ctx?: Partial<ContextWire>, env?: Partial<EnvWire>): Promise<ResponseWire>;
  pull(stream: number): Promise<Uint8Array | null>;
  cancel(stream: number): Promise<void>;
  settled(requestId: string): Promise<void>;
  /** Dispatch, then pull a streamed body to the end. */
  request(request: RequestWire, ctx?: Partial<ContextWire>, env?: Partial<EnvWire>): Promise<ResponseWire & { text: string }>;
  dispose(): void;
}

const COPY = { arguments: { copy: true }, result: { promise: true, copy: true } } as const;

export async function createTestIsolate(options: TestHostOptions = {}): Promise<TestIsolate> {
  const isolate = new ivm.Isolate({ memoryLimit: options.memoryLimit ?? 64 });
  const context = await isolate.createContext();
  const logs: LogLine[] = [];
  // Set once the globals script has returned the API; timers and async host calls enter through it.
  let fireTimer: ivm.Reference<(id: number) => void> | undefined;
  let complete: ivm.Reference<(callId: number, ok: boolean, value: unknown) => void> | undefined;

  const unavailable = async (): Promise<never> => {
    throw new Error("this test host has no such function");
  };
  const bridge = createBridge({
    service: "test",
    logLevel: "debug",
    log: (level, requestId, message) => logs.push({ level, requestId, message }),
    fireTimer: (id) => fireTimer?.applyIgnored(undefined, [id]),
    fetch: options.fetch ?? unavailable,
    callService: options.service ?? unavailable,
    complete: (callId, ok, value) => void complete?.apply(undefined, [callId, ok, value], { arguments: { copy: true } }).catch(() => {}),
  });
  for (const [name, value] of Object.entries(bridge.globals)) context.global.setSync(name, value);

  const api = (await context.eval(await globalsScript(), { reference: true })) as ivm.Reference<Record<string, unknown>>;
  const method = (name: string) => api.getSync(name, { reference: true }) as ivm.Reference<(...args: unknown[]) => unknown>;
  fireTimer = method("fireTimer") as ivm.Reference<(id: number) => void>;
  complete = method("complete") as ivm.Reference<(callId: number, ok: boolean, value: unknown) => void>;
  const dispatchRef = method("dispatch");
  const pullRef = method("pull");
  const cancelRef = method("cancel");
  const settledRef = method("settled");
  const setHandlerRef = method("setHandler");

  const ctxOf = (ctx: Partial<ContextWire> = {}): ContextWire => ({
    site: "test-site",
    region: "test-region",
    priority: "normal",
    requestId: "req-1",
    ...ctx,
  });
  const envOf = (env: Partial<EnvWire> = {}): EnvWire => ({ vars: {}, services: {}, ...env });

  const t: TestIsolate = {
    isolate,
    context,
    logs,
    async run<T>(code: string) {
      return (await context.eval(`(async () => { ${code} })()`, { promise: true, copy: true })) as T;
    },
    async load(code: string) {
      const module = await isolate.compileModule(code, { filename: "file:///function.js" });
      await module.instantiate(context, () => {
        throw new Error("test bundles have no imports");
      });
      await module.evaluate();
      const handler = await module.namespace.get("default", { reference: true });
      await setHandlerRef.apply(undefined, [handler.derefInto()]);
    },
    async dispatch(request, ctx, env) {
      return (await dispatchRef.apply(undefined, [request, ctxOf(ctx), envOf(env)], COPY)) as ResponseWire;
    },
    async pull(stream) {
      return (await pullRef.apply(undefined, [stream], COPY)) as Uint8Array | null;
    },
    async cancel(stream) {
      await cancelRef.apply(undefined, [stream], { arguments: { copy: true } });
    },
    async settled(requestId) {
      await settledRef.apply(undefined, [requestId], COPY);
    },
    async request(request, ctx, env) {
      const response = await t.dispatch(request, ctx, env);
      let bytes = response.body ?? new Uint8Array(0);
      if (response.stream !== null) {
        const chunks: Uint8Array[] = [];
        for (let chunk = await t.pull(response.stream); chunk !== null; chunk = await t.pull(response.stream)) chunks.push(chunk);
        bytes = Buffer.concat(chunks);
      }
      return { ...response, text: Buffer.from(bytes).toString("utf8") };
    },
    dispose() {
      bridge.dispose();
      if (!isolate.isDisposed) isolate.dispose();
    },
  };
  return t;
}

/** A RequestWire with defaults. */
export function wireRequest(url: string, init: Partial<RequestWire> = {}): RequestWire {
  return { method: "GET", url, headers: [], body: null, ...init };
}
