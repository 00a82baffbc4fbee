/**
 * Test helper: bundles platform.ts alone (as globals-script.ts bundles the whole globals
 * script, minified) and runs it in a real isolated-vm context with the bridge's host
 * functions, so the platform tests do not depend on fetch.ts.
 */
import ivm from "isolated-vm";
import { bundleGlobals } from "../globals-script.ts";
import { fileURLToPath } from "node:url";
import { createBridge, type Bridge, type BridgeOptions, type LogLevel } from "../bridge.ts";
import type { ResponseWire } from "../wire.ts";

const DIR = fileURLToPath(new URL(".", import.meta.url));

const ENTRY = `
import { captureHost, completeHostCall } from "./host.ts";
import { installPlatform } from "./platform.ts";
import { fireTimer, pendingTimers } from "./timers.ts";
import { setCurrentRequestId } from "./current.ts";
const host = captureHost();
installPlatform(globalThis, host);
export default { fireTimer, pendingTimers, setCurrentRequestId, complete: completeHostCall };
`;

let script: Promise<string> | undefined;

/** The platform-only globals script, built once per test process. */
export function platformScript(): Promise<string> {
  script ??= bundleGlobals({ contents: ENTRY, resolveDir: DIR });
  return script;
}

export interface LogLine {
  level: LogLevel;
  requestId: string;
  message: string;
}

export interface TestIsolate {
  isolate: ivm.Isolate;
  bridge: Bridge;
  context: ivm.Context;
  logs: LogLine[];
  /** Evaluates `body` as an async function body; resolves to a copy of its return value. */
  run<T = unknown>(body: string): Promise<T>;
  /** Calls a method of the script's exports (fireTimer, pendingTimers, setCurrentRequestId). */
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  /** Errors from firing timers into the isolate (should stay empty). */
  timerErrors: unknown[];
  /** Ids the bridge asked to fire, in order. */
  fired: number[];
  dispose(): void;
}

const noResponse = (): Promise<ResponseWire> => Promise.reject(new Error("no network in platform tests"));

export async function createTestIsolate(options: Partial<Omit<BridgeOptions, "complete">> & { memoryLimit?: number } = {}): Promise<TestIsolate> {
  const isolate = new ivm.Isolate({ memoryLimit: options.memoryLimit ?? 64 });
  const context = await isolate.createContext();
  const logs: LogLine[] = [];
  const timerErrors: unknown[] = [];
  const fired: number[] = [];
  let fire: ivm.Reference<(id: number) => void> | undefined;
  let complete: ivm.Reference<(callId: number, ok: boolean, value: unknown) => void> | undefined;
  const bridge = createBridge({
    service: "test",
    logLevel: "debug",
    log: (level, requestId, message) => logs.push({ level, requestId, message }),
    fetch: noResponse,
    callService: noResponse,
    fireTimer: (id) => {
      fired.push(id);
      fire?.apply(undefined, [id]).catch((error: unknown) => timerErrors.push(error));
    },
    ...options,
    // The isolate may be gone by the time the host answers.
    complete: (callId, ok, value) => void complete?.apply(undefined, [callId, ok, value], { arguments: { copy: true } }).catch(() => {}),
  });
  for (const [name, value] of Object.entries(bridge.globals)) await context.global.set(name, value);
  const code = await platformScript();
  const api = (await isolate.compileScriptSync(code).run(context, { reference: true })) as ivm.Reference<Record<string, unknown>>;
  fire = (await api.get("fireTimer", { reference: true })) as ivm.Reference<(id: number) => void>;
  complete = (await api.get("complete", { reference: true })) as typeof complete;
  return {
    isolate,
    bridge,
    context,
    logs,
    timerErrors,
    fired,
    call: async <T>(method: string, ...args: unknown[]) => {
      const fn = (await api.get(method, { reference: true })) as ivm.Reference<(...a: unknown[]) => T>;
      return fn.apply(undefined, args, { arguments: { copy: true }, result: { copy: true } }) as Promise<T>;
    },
    run: async <T>(body: string) => {
      const result = (await context.eval(`(async () => {${body}\n})()`, { promise: true, copy: true })) as T;
      // Log lines are ignored (fire-and-forget) host calls: let any still queued land first.
      await new Promise((resolve) => setImmediate(resolve));
      return result;
    },
    dispose() {
      bridge.dispose();
      if (!isolate.isDisposed) isolate.dispose();
    },
  };
}
