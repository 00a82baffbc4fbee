/**
 * The host side of HOST_GLOBALS (wire.ts): the only functions user code can reach, one set
 * per context, and the one place that makes them. Values cross as copies; nothing returned
 * here may alias host memory (a Node Buffer can be a slice of a shared pool, and copying a
 * view copies its whole buffer).
 */
import ivm from "isolated-vm";
import { webcrypto } from "node:crypto";
import { domainToASCII } from "node:url";
import { HOST_GLOBALS, type HostErrorWire, type HostGlobal, type RequestWire, type ResponseWire } from "./wire.ts";
import { runSubtle, type SubtleKeys } from "./bridge-subtle.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface BridgeOptions {
  /** The function's service name, for the host's own error lines; read when one is written. */
  service: string;
  /** Lowest console level kept ("debug".."error", "silent"): the isolate skips lower ones. */
  logLevel: string;
  /** One console line of user code. */
  log: (level: LogLevel, requestId: string, message: string) => void;
  /** Timer `id` is due: call IsolateApi.fireTimer(id). */
  fireTimer: (id: number) => void;
  /** Egress-checked fetch for the function. */
  fetch: (request: RequestWire, requestId: string) => Promise<ResponseWire>;
  /** A call to a bound service over the VAN (`env.X.fetch`). */
  callService: (target: string, request: RequestWire, requestId: string) => Promise<ResponseWire>;
  /**
   * An async host call finished: call IsolateApi.complete(callId, ok, value). A failure's
   * value is a HostErrorWire. Not called once the bridge is disposed.
   */
  complete: (callId: number, ok: boolean, value: unknown) => void;
}

export interface Bridge {
  /** Keyed by HOST_GLOBALS names: set each on the context's global before the globals script. */
  globals: Record<string, ivm.Callback | string>;
  /** Clears pending timers and crypto keys; later host calls do nothing and answer nothing. */
  dispose(): void;
}

/** Pending timers per isolate; the globals script refuses more with the same number. */
export const MAX_TIMERS = 10_000;
/** Longest console line passed on; the rest is cut with a note. */
export const MAX_LOG_CHARS = 64 * 1024;
const MAX_DELAY = 2 ** 31 - 1;
const MAX_RANDOM = 65536;
const LEVELS = new Set<string>(["debug", "info", "warn", "error"]);

export function createBridge(opts: BridgeOptions): Bridge {
  let disposed = false;
  const timers = new Map<number, NodeJS.Timeout>();
  const keys: SubtleKeys = new Map();
  const decoders = new Map<string, TextDecoder>();
  let warnedTimers = false;

  const log = (level: unknown, requestId: unknown, message: unknown): void => {
    if (disposed) return;
    let text = String(message);
    if (text.length > MAX_LOG_CHARS) {
      text = `${text.slice(0, MAX_LOG_CHARS)}… [${text.length - MAX_LOG_CHARS} more characters cut]`;
    }
    opts.log(LEVELS.has(level as string) ? (level as LogLevel) : "info", String(requestId), text);
  };

  const random = (length: unknown): Uint8Array => {
    const n = Number(length);
    if (!Number.isInteger(n) || n < 0 || n > MAX_RANDOM) throw new RangeError(`random: length must be an integer from 0 to ${MAX_RANDOM}`);
    // A fresh, exactly sized array: never a slice of Node's Buffer pool.
    return webcrypto.getRandomValues(new Uint8Array(n));
  };

  const textDecode = (bytes: unknown, label: unknown, fatal: unknown): string => {
    const key = `${String(label)}\0${fatal ? 1 : 0}`;
    let decoder = decoders.get(key);
    if (decoder === undefined) {
      decoder = new TextDecoder(String(label), { fatal: Boolean(fatal) });
      decoders.set(key, decoder);
    }
    return decoder.decode(bytes as Uint8Array);
  };

  const setTimer = (id: unknown, ms: unknown): void => {
    if (disposed || typeof id !== "number") return;
    const existing = timers.get(id);
    if (existing !== undefined) clearTimeout(existing);
    else if (timers.size >= MAX_TIMERS) {
      // The isolate refuses first; reaching this means its count and ours disagree.
      if (!warnedTimers) {
        warnedTimers = true;
        opts.log("error", "", `edgefn: service ${opts.service} has ${MAX_TIMERS} pending timers; further timers are dropped`);
      }
      return;
    }
    const delay = Math.min(Math.max(Number(ms) || 0, 0), MAX_DELAY);
    const timer = setTimeout(() => {
      timers.delete(id);
      if (!disposed) opts.fireTimer(id);
    }, delay);
    // A function's timer must not keep the runtime process alive.
    timer.unref();
    timers.set(id, timer);
  };

  const clearTimer = (id: unknown): void => {
    const timer = timers.get(id as number);
    if (timer === undefined) return;
    clearTimeout(timer);
    timers.delete(id as number);
  };

  /** An "async" global (wire.ts): started with a call id, answered later through `complete`. */
  const asyncGlobal = (run: (...args: unknown[]) => Promise<unknown>): ivm.Callback =>
    new ivm.Callback(
      (callId: unknown, ...args: unknown[]) => {
        if (disposed || typeof callId !== "number") return;
        // A synchronous throw (no function bound yet, say) is answered like a rejection.
        new Promise<unknown>((resolve) => resolve(run(...args))).then(
          (value) => {
            if (!disposed) opts.complete(callId, true, value);
          },
          (error: unknown) => {
            if (!disposed) opts.complete(callId, false, toHostError(error));
          },
        );
      },
      { ignored: true },
    );

  const values: Record<HostGlobal, ivm.Callback | string> = {
    log: new ivm.Callback(log, { ignored: true }),
    random: new ivm.Callback(random),
    domainToASCII: new ivm.Callback((domain: unknown) => domainToASCII(String(domain))),
    textDecode: new ivm.Callback(textDecode),
    // Never rejects: globals/crypto.ts reads { ok, value } or { ok: false, name, message }, so a
    // DOMException's name (OperationError, DataError...) survives the crossing.
    subtle: asyncGlobal((op, args) => runSubtle(keys, String(op), args as unknown[], () => disposed)),
    fetch: asyncGlobal((request, requestId) => opts.fetch(request as RequestWire, String(requestId))),
    service: asyncGlobal((target, request, requestId) => opts.callService(String(target), request as RequestWire, String(requestId))),
    setTimer: new ivm.Callback(setTimer, { ignored: true }),
    clearTimer: new ivm.Callback(clearTimer, { ignored: true }),
    logLevel: opts.logLevel,
  };

  const globals: Record<string, ivm.Callback | string> = {};
  for (const name of Object.keys(HOST_GLOBALS) as HostGlobal[]) globals[HOST_GLOBALS[name]] = values[name];

  return {
    globals,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      keys.clear();
      decoders.clear();
    },
  };
}

/** Fetch failures are TypeErrors in the Web platform, so a plain Error crosses as one. */
function toHostError(error: unknown): HostErrorWire {
  if (error instanceof Error) return { name: error.name === "Error" ? "TypeError" : error.name, message: error.message };
  return { name: "TypeError", message: String(error) };
}
