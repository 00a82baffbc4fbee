/**
 * The contract between the host (runtime/isolate/sandbox.ts, bridge.ts) and the script that
 * runs first in every isolate context (runtime/isolate/globals/, bundled by esbuild into one
 * script). Only plain, structured-cloneable values cross; no imports, types only.
 *
 * Start-up, per context:
 *  1. The host sets each global named in HOST_GLOBALS (ivm.Callback values, and one string).
 *  2. The host evaluates the globals script. It captures and deletes those globals (user code
 *     never sees them), installs the Web APIs on globalThis, and its completion value is the
 *     IsolateApi object, which the host keeps as a Reference.
 *  3. The host compiles and evaluates the user's ES module and calls `setHandler(default)`.
 *
 * Per request: `dispatch(request, ctx, env)` resolves to a ResponseWire. When
 * `ResponseWire.stream` is a number, the host calls `pull(stream)` until it resolves to null
 * (or `cancel(stream)` if the client went away).
 */

/** An HTTP request or response head as plain data. Header names are lower-case. */
export type HeaderList = [name: string, value: string][];

export interface RequestWire {
  method: string;
  /** Absolute URL, as the function must see it (route prefix already removed). */
  url: string;
  headers: HeaderList;
  /** Whole body (bounded by limits.requestBytes), or null for none. */
  body: Uint8Array<ArrayBuffer> | null;
  /** For fetch() from a function: how the host treats redirects (default "follow"). */
  redirect?: "follow" | "error" | "manual";
}

export interface ResponseWire {
  status: number;
  statusText: string;
  headers: HeaderList;
  /** Whole body when the function produced it at once (string, bytes, Blob...), else null. */
  body: Uint8Array<ArrayBuffer> | null;
  /** Id of a streaming body to `pull` from, else null. */
  stream: number | null;
  /** From dispatch: ctx.waitUntil() promises are still pending; the host calls `settled`. */
  waitUntil?: boolean;
  /** From the host's fetch: the final URL after redirects, and whether there were any. */
  url?: string;
  redirected?: boolean;
}

/**
 * Name of the TypeError dispatch throws when fetch() did not give a usable Response.
 * isolated-vm copies errors out by constructor, so the host finds it at the start of `stack`.
 */
export const BAD_RESPONSE = "EdgefnBadResponse";

/** `ctx` as the function sees it, minus waitUntil (which the globals script provides). */
export interface ContextWire {
  site: string;
  region: string;
  priority: string;
  requestId: string;
}

/** `env` as plain data; service bindings become objects with `fetch` inside the isolate. */
export interface EnvWire {
  /** Variables and secrets (strings). */
  vars: Record<string, string>;
  /** Binding name -> target function name, for `env.X.fetch(...)`. */
  services: Record<string, string>;
}

/** What the globals script returns; the host holds each as an ivm.Reference. */
export interface IsolateApi {
  /** Takes the user module's default export; throws a TypeError naming what is missing. */
  setHandler(handler: unknown): void;
  /** Runs `handler.fetch(request, env, ctx)`; an uncaught throw rejects with the Error. */
  dispatch(request: RequestWire, ctx: ContextWire, env: EnvWire): Promise<ResponseWire>;
  /** Next chunk of a streaming body, or null at the end. */
  pull(stream: number): Promise<Uint8Array | null>;
  /** Client went away: cancel the stream's source. */
  cancel(stream: number): void;
  /** Resolves when every ctx.waitUntil() promise of that request has settled. */
  settled(requestId: string): Promise<void>;
  /** A timer set through HOST_GLOBALS.setTimer fired. */
  fireTimer(id: number): void;
  /**
   * An async host call finished: `ok` with its value, or not with `{ name, message }`.
   * The host resolves async calls by entering the isolate itself (instead of letting
   * isolated-vm resolve a promise), so the code that runs next gets a CPU timeout too.
   */
  complete(callId: number, ok: boolean, value: unknown): void;
  /** The request the isolate last ran code for: who to blame when an entry runs over. */
  current(): string;
}

/** How a failed async host call crosses into the isolate. */
export interface HostErrorWire {
  name: string;
  message: string;
}

/**
 * Host functions, as globals present only while the globals script starts. Kinds:
 *  - "sync": ivm.Callback, called synchronously (a cross-thread hop: keep off the hot path).
 *  - "ignored": ivm.Callback with { ignored: true }: fire-and-forget, returns undefined.
 *  - "async": ivm.Callback with { ignored: true }, called as (callId, ...args); the host answers
 *    later through IsolateApi.complete(callId, ok, value). globals/host.ts hides this behind
 *    plain promise-returning functions.
 */
export const HOST_GLOBALS = {
  /** (level: "debug"|"info"|"warn"|"error", requestId: string, message: string) => void */
  log: "__edgefnHostLog",
  /** (length: number) => Uint8Array of cryptographically random bytes (length <= 65536) */
  random: "__edgefnHostRandom",
  /** (domain: string) => string: UTS-46 toASCII (Node's url.domainToASCII); "" if invalid */
  domainToASCII: "__edgefnHostDomainToASCII",
  /** (bytes: Uint8Array, label: string, fatal: boolean) => string; non-UTF-8 decoding */
  textDecode: "__edgefnHostTextDecode",
  /** async (op: string, args: unknown[]) => unknown: WebCrypto subtle operations; keys by id */
  subtle: "__edgefnHostSubtle",
  /** async (request: RequestWire, requestId: string) => ResponseWire: egress-checked fetch */
  fetch: "__edgefnHostFetch",
  /** async (target: string, request: RequestWire, requestId: string) => ResponseWire */
  service: "__edgefnHostService",
  /** ignored (id: number, ms: number) => void; later the host calls IsolateApi.fireTimer(id) */
  setTimer: "__edgefnHostSetTimer",
  /** ignored (id: number) => void */
  clearTimer: "__edgefnHostClearTimer",
  /** a string, not a function: the lowest console level the host keeps ("debug".."error", "silent") */
  logLevel: "__edgefnHostLogLevel",
} as const;
export type HostGlobal = keyof typeof HOST_GLOBALS;
