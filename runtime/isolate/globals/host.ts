/**
 * Inside the isolate: takes the host functions the sandbox left as globals (wire.ts,
 * HOST_GLOBALS), deletes the globals so user code never reaches them, and returns them typed.
 *
 * Async host functions are fire-and-forget callbacks taking a call id; the host answers by
 * calling IsolateApi.complete(callId, ok, value), which settles the promise made here.
 */
import { HOST_GLOBALS, type HostErrorWire, type RequestWire, type ResponseWire } from "../wire.ts";
import { currentRequestId, setCurrentRequestId } from "./current.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS = ["debug", "info", "warn", "error"] as const;

export interface Host {
  log(level: LogLevel, requestId: string, message: string): void;
  /** False for levels the host drops anyway: console skips formatting them. */
  logs(level: LogLevel): boolean;
  random(length: number): Uint8Array;
  domainToASCII(domain: string): string;
  textDecode(bytes: Uint8Array, label: string, fatal: boolean): string;
  subtle(op: string, args: unknown[]): Promise<unknown>;
  fetch(request: RequestWire, requestId: string): Promise<ResponseWire>;
  service(target: string, request: RequestWire, requestId: string): Promise<ResponseWire>;
  setTimer(id: number, ms: number): void;
  clearTimer(id: number): void;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void; requestId: string };
const pending = new Map<number, Pending>();
let nextCallId = 1;

/** IsolateApi.complete: settles the promise of an async host call. */
export function completeHostCall(callId: number, ok: boolean, value: unknown): void {
  const call = pending.get(callId);
  if (call === undefined) return;
  pending.delete(callId);
  // What runs next continues the request that made the call.
  setCurrentRequestId(call.requestId);
  if (ok) {
    call.resolve(value);
  } else {
    const wire = value as HostErrorWire;
    const error = new Error(wire.message);
    error.name = wire.name;
    call.reject(error);
  }
}

type AsyncStarter = (callId: number, ...args: unknown[]) => void;

function asyncCall<T>(start: AsyncStarter, args: unknown[]): Promise<T> {
  const callId = nextCallId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(callId, { resolve: resolve as (value: unknown) => void, reject, requestId: currentRequestId() });
    start(callId, ...args);
  });
}

export function captureHost(): Host {
  const g = globalThis as unknown as Record<string, unknown>;
  const take = <T>(name: string): T => {
    const value = g[name];
    if (value === undefined) throw new Error(`edgefn: host global ${name} is missing`);
    delete g[name];
    return value as T;
  };

  const lowest = take<string>(HOST_GLOBALS.logLevel);
  const kept = new Set<string>(LEVELS.slice(Math.max(0, LEVELS.indexOf(lowest as LogLevel))));
  if (lowest === "silent" || lowest === "fatal") kept.clear();
  const subtle = take<AsyncStarter>(HOST_GLOBALS.subtle);
  const fetchStart = take<AsyncStarter>(HOST_GLOBALS.fetch);
  const service = take<AsyncStarter>(HOST_GLOBALS.service);

  return {
    log: take(HOST_GLOBALS.log),
    logs: (level) => kept.has(level),
    random: take(HOST_GLOBALS.random),
    domainToASCII: take(HOST_GLOBALS.domainToASCII),
    textDecode: take(HOST_GLOBALS.textDecode),
    subtle: (op, args) => asyncCall(subtle, [op, args]),
    fetch: (request, requestId) => asyncCall(fetchStart, [request, requestId]),
    service: (target, request, requestId) => asyncCall(service, [target, request, requestId]),
    setTimer: take(HOST_GLOBALS.setTimer),
    clearTimer: take(HOST_GLOBALS.clearTimer),
  };
}
