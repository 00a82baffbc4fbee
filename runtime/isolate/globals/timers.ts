/**
 * Inside the isolate: setTimeout/setInterval and their clears, and queueMicrotask. The host
 * runs the clock (`host.setTimer(id, ms)`) and calls IsolateApi.fireTimer(id) back, which
 * lands in `fireTimer` here; the callback then runs for the request that set the timer.
 * Ids are numbers, as in browsers and Workers.
 */
import type { Host } from "./host.ts";
import { currentRequestId, setCurrentRequestId } from "./current.ts";
import { reportError } from "./events.ts";

/** Pending timers per context; the host enforces the same cap per isolate. */
export const MAX_TIMERS = 10_000;
/** Longest delay, as in browsers and Node (a signed 32-bit millisecond count). */
const MAX_DELAY = 2 ** 31 - 1;

interface Timer {
  callback: (...args: unknown[]) => unknown;
  args: unknown[];
  /** Milliseconds between runs for setInterval, or -1 for setTimeout. */
  repeat: number;
  requestId: string;
}

const timers = new Map<number, Timer>();
let nextId = 1;
let host: Host | undefined;

export function installTimers(h: Host): void {
  host = h;
}

function delayOf(ms: unknown): number {
  const n = Number(ms);
  if (!(n > 0)) return 0; // NaN, negative, and non-numbers mean "as soon as possible"
  return n > MAX_DELAY ? MAX_DELAY : Math.trunc(n);
}

function start(callback: unknown, ms: unknown, args: unknown[], repeat: boolean): number {
  if (typeof callback !== "function") {
    throw new TypeError(`The "callback" argument must be of type function. Received ${callback === null ? "null" : typeof callback}`);
  }
  if (timers.size >= MAX_TIMERS) {
    throw new RangeError(`edgefn: too many timers: ${MAX_TIMERS} are already pending in this function; clear some before setting more`);
  }
  const delay = delayOf(ms);
  const id = nextId++;
  timers.set(id, { callback: callback as Timer["callback"], args, repeat: repeat ? delay : -1, requestId: currentRequestId() });
  host!.setTimer(id, delay);
  return id;
}

function clear(id: unknown): void {
  const n = typeof id === "number" ? id : Number(id);
  if (timers.delete(n)) host!.clearTimer(n);
}

export function setTimeout(callback: unknown, ms?: unknown, ...args: unknown[]): number {
  return start(callback, ms, args, false);
}

export function setInterval(callback: unknown, ms?: unknown, ...args: unknown[]): number {
  return start(callback, ms, args, true);
}

export function clearTimeout(id?: unknown): void {
  clear(id);
}

export function clearInterval(id?: unknown): void {
  clear(id);
}

export function queueMicrotask(callback: unknown): void {
  if (typeof callback !== "function") {
    throw new TypeError(`The "callback" argument must be of type function. Received ${callback === null ? "null" : typeof callback}`);
  }
  const requestId = currentRequestId();
  void Promise.resolve().then(() => {
    setCurrentRequestId(requestId);
    try {
      (callback as () => unknown)();
    } catch (error) {
      reportError(error);
    }
  });
}

/** The host's clock fired timer `id`: run it (an unknown or cleared id is ignored). */
export function fireTimer(id: number): void {
  const timer = timers.get(id);
  if (timer === undefined) return;
  if (timer.repeat >= 0) host!.setTimer(id, timer.repeat);
  else timers.delete(id);
  // Not restored afterwards: the callback's own promise jobs run after this returns and
  // belong to the same request.
  setCurrentRequestId(timer.requestId);
  try {
    timer.callback.apply(globalThis, timer.args);
  } catch (error) {
    reportError(error);
  }
}

/** How many timers are pending (tests and diagnostics). */
export function pendingTimers(): number {
  return timers.size;
}
