/**
 * One isolated-vm isolate with one context: the globals script, then one function version.
 *
 * Every entry into the isolate is an `apply` made here with a `timeout` (dispatch, pull,
 * timers, async host calls completing), so a runaway loop anywhere in user code is ended by
 * isolated-vm within the CPU budget and the isolate stays usable. Memory over the limit
 * disposes the isolate; the pool then replaces it.
 */
import ivm from "isolated-vm";
import { RuntimeError } from "../errors.ts";
import { createBridge, type Bridge } from "./bridge.ts";
import { BAD_RESPONSE, type ContextWire, type EnvWire, type RequestWire, type ResponseWire } from "./wire.ts";

/** What the sandbox needs from the function it runs; bound late so spares can be made ahead. */
export interface SandboxBinding {
  service: string;
  cpuMs: number;
  log(level: "debug" | "info" | "warn" | "error", requestId: string, message: string): void;
  fetch(request: RequestWire, requestId: string): Promise<ResponseWire>;
  callService(target: string, request: RequestWire, requestId: string): Promise<ResponseWire>;
  /** Maps a stack from this bundle to the user's sources. */
  mapStack(stack: string): string;
}

export interface SandboxOptions {
  memoryMb: number;
  /** Lowest console level kept (the runtime's log level): lower ones are not even formatted. */
  logLevel: string;
  globalsScript: string;
}

export interface LoadOptions {
  code: string;
  filename: string;
  /** V8 code cache from an earlier load of the same code. */
  cachedData?: ivm.ExternalCopy<ArrayBuffer> | undefined;
  /** Budget for evaluating the module's top level. */
  loadTimeoutMs: number;
}

const GLOBALS_FILENAME = "edgefn:globals";
/** What most functions touch on every request; see Sandbox.warmUp. */
const WARM_UP_HANDLER = `({ async fetch(request) {
  const url = new URL(request.url);
  url.searchParams.get("q");
  const body = await request.json();
  const headers = new Headers(request.headers);
  headers.set("x-warm", "1");
  new TextDecoder().decode(new TextEncoder().encode(JSON.stringify(body)));
  await Response.json({ path: url.pathname, body }, { headers }).clone().json();
  return new Response("warm", { headers: { "content-type": "text/plain" } });
} })`;
const WARM_UP_REQUEST: RequestWire = {
  method: "POST",
  url: "http://warm-up.invalid/path?q=1",
  headers: [["content-type", "application/json"]],
  body: new TextEncoder().encode('{"warm":true}') as Uint8Array<ArrayBuffer>,
};
/**
 * isolated-vm's `timeout` is wall-clock time on the isolate's thread, which contention for
 * the cores stretches: allow twice the CPU budget, so a busy machine does not fail honest
 * requests while a runaway loop still ends within about 2x its budget.
 */
const WALL_PER_CPU = 2;
/** The first request in a new isolate also compiles the code it touches (V8 compiles lazily). */
const FIRST_REQUEST_MIN_MS = 500;
let globalsCache: { script: string; data: ivm.ExternalCopy<ArrayBuffer> } | undefined;

const API_METHODS = ["setHandler", "dispatch", "pull", "cancel", "settled", "fireTimer", "complete", "current"] as const;
type ApiRefs = Record<(typeof API_METHODS)[number], ivm.Reference<(...args: unknown[]) => unknown>>;

interface InFlight {
  fail(error: RuntimeError): void;
}

export class Sandbox {
  readonly isolate: ivm.Isolate;
  readonly memoryMb: number;
  private readonly context: ivm.Context;
  private readonly api: ApiRefs;
  private readonly bridge: Bridge;
  private binding: SandboxBinding | undefined;
  private readonly inflight = new Map<string, InFlight>();
  /** Response streams still being pulled and waitUntil() work: the sandbox must outlive them. */
  private holds = 0;
  /** Why this sandbox can no longer serve, once it cannot. */
  private deathReason: RuntimeError | undefined;
  private served = 0;
  lastUsed = Date.now();

  private constructor(isolate: ivm.Isolate, context: ivm.Context, api: ApiRefs, bridge: Bridge, memoryMb: number) {
    this.isolate = isolate;
    this.context = context;
    this.api = api;
    this.bridge = bridge;
    this.memoryMb = memoryMb;
  }

  /** A fresh isolate with the Web APIs installed and no function yet. */
  static async create(opts: SandboxOptions): Promise<Sandbox> {
    const isolate = new ivm.Isolate({ memoryLimit: opts.memoryMb });
    try {
      const context = await isolate.createContext();
      // The bridge finds the sandbox and its function late: spares are made before one is bound.
      let sandbox: Sandbox | undefined;
      const bound = (): SandboxBinding => {
        if (sandbox?.binding === undefined) throw new Error("sandbox has no function bound");
        return sandbox.binding;
      };
      const bridge = createBridge({
        get service() {
          return sandbox?.binding?.service ?? "(none bound)";
        },
        logLevel: opts.logLevel,
        log: (level, requestId, message) => sandbox?.binding?.log(level, requestId, message),
        fireTimer: (id) => sandbox?.enter("fireTimer", [id]),
        fetch: (request, requestId) => bound().fetch(request, requestId),
        callService: (target, request, requestId) => bound().callService(target, request, requestId),
        // Results re-enter under a CPU timeout, like every other entry into the isolate.
        complete: (callId, ok, value) => sandbox?.enter("complete", [callId, ok, value]),
      });
      // Sync variants here: each is a few µs, where an async call costs a thread hop.
      for (const [name, value] of Object.entries(bridge.globals)) {
        context.global.setSync(name, value);
      }
      const script = await compileGlobals(isolate, opts.globalsScript);
      const apiRef = (await script.run(context, { reference: true, timeout: 5_000 })) as ivm.Reference<Record<string, unknown>>;
      const api = {} as ApiRefs;
      for (const method of API_METHODS) {
        api[method] = apiRef.getSync(method, { reference: true }) as ivm.Reference<(...args: unknown[]) => unknown>;
      }
      sandbox = new Sandbox(isolate, context, api, bridge, opts.memoryMb);
      await sandbox.warmUp();
      return sandbox;
    } catch (error) {
      if (!isolate.isDisposed) isolate.dispose();
      throw error;
    }
  }

  /**
   * Runs one request through the Web APIs before any function is bound: V8 compiles lazily
   * per isolate, and this moves that compiling (about 8 ms) off the first real request.
   */
  private async warmUp(): Promise<void> {
    const handler = await this.context.eval(WARM_UP_HANDLER, { reference: true, timeout: 5_000 });
    await this.api.setHandler.apply(undefined, [handler.derefInto()], { timeout: 5_000 });
    await this.api.dispatch.apply(undefined, [WARM_UP_REQUEST, { site: "", region: "", priority: "normal", requestId: "warm-up" }, { vars: {}, services: {} }], {
      arguments: { copy: true },
      result: { promise: true, copy: true },
      timeout: 5_000,
    });
  }

  /** Binds a function to this sandbox: evaluates its module and hands its default export over. */
  async load(binding: SandboxBinding, opts: LoadOptions): Promise<{ cachedData: ivm.ExternalCopy<ArrayBuffer> | undefined }> {
    if (this.binding !== undefined) throw new Error("a sandbox runs one function version");
    this.binding = binding;
    let module: ivm.Module & WithCachedData;
    try {
      module = (await this.isolate.compileModule(opts.code, {
        filename: opts.filename,
        ...(opts.cachedData === undefined ? { produceCachedData: true } : { cachedData: opts.cachedData }),
      })) as ivm.Module & WithCachedData;
      await module.instantiate(this.context, (specifier) => {
        throw new Error(`import of "${specifier}" is not allowed: bundles must be self-contained`);
      });
      await module.evaluate({ timeout: opts.loadTimeoutMs });
      const handler = await module.namespace.get("default", { reference: true });
      await this.api.setHandler.apply(undefined, [handler.derefInto()], { timeout: opts.loadTimeoutMs });
    } catch (error) {
      throw new RuntimeError("ERR_MODULE_LOAD", `function "${binding.service}" failed to load: ${this.describe(error)}`, {
        status: 422,
        hint: "fix the error at the top level of the module, or export default { fetch(request, env, ctx) { ... } }",
        cause: error,
      });
    }
    return { cachedData: opts.cachedData ?? module.cachedData };
  }

  /** CPU time this isolate used so far (ns); undefined once disposed. */
  cpuTimeNs(): bigint | undefined {
    return this.isolate.isDisposed ? undefined : this.isolate.cpuTime;
  }

  get dead(): boolean {
    return this.deathReason !== undefined || this.isolate.isDisposed;
  }

  /** Requests in flight plus holds (open response streams, pending waitUntil work). */
  get busy(): number {
    return this.inflight.size + this.holds;
  }

  /** Keeps the sandbox from being disposed until the returned function is called. */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.lastUsed = Date.now();
    };
  }

  /** Runs one request through the function. Rejects with a RuntimeError. */
  dispatch(request: RequestWire, ctx: ContextWire, env: EnvWire): Promise<ResponseWire> {
    const binding = this.requireBinding();
    this.lastUsed = Date.now();
    const budget = binding.cpuMs * WALL_PER_CPU;
    const timeout = this.served++ === 0 ? Math.max(budget, FIRST_REQUEST_MIN_MS) : budget;
    return new Promise<ResponseWire>((resolve, reject) => {
      const entry: InFlight = {
        // The isolate may never settle a request whose code was terminated: forget it now.
        fail: (error) => {
          this.inflight.delete(ctx.requestId);
          reject(error);
        },
      };
      this.inflight.set(ctx.requestId, entry);
      this.api.dispatch
        .apply(undefined, [request, ctx, env], {
          arguments: { copy: true },
          result: { promise: true, copy: true },
          timeout,
        })
        .then(
          (response) => resolve(response as ResponseWire),
          (error: unknown) => reject(this.classify(error, ctx.requestId)),
        )
        .finally(() => {
          this.inflight.delete(ctx.requestId);
          this.lastUsed = Date.now();
        });
    });
  }

  /** Next chunk of a streaming body, or null at its end. */
  async pull(stream: number): Promise<Uint8Array<ArrayBuffer> | null> {
    const binding = this.requireBinding();
    try {
      const chunk = await this.api.pull.apply(undefined, [stream], {
        result: { promise: true, copy: true },
        timeout: binding.cpuMs * WALL_PER_CPU,
      });
      return chunk === null || chunk === undefined ? null : (chunk as Uint8Array<ArrayBuffer>);
    } catch (error) {
      throw this.classify(error, undefined);
    }
  }

  cancel(stream: number): void {
    if (this.dead) return;
    this.api.cancel.apply(undefined, [stream], { timeout: this.entryTimeout() }).catch(() => undefined);
  }

  /** Resolves when the request's ctx.waitUntil() promises have settled (or the sandbox died). */
  async settled(requestId: string): Promise<void> {
    if (this.dead) return;
    await this.api.settled
      .apply(undefined, [requestId], { result: { promise: true }, timeout: this.entryTimeout() })
      .catch(() => undefined);
  }

  dispose(): void {
    this.bridge.dispose();
    if (!this.isolate.isDisposed) this.isolate.dispose();
    this.context.release();
  }

  /** Enters the isolate on behalf of a host event; a timeout there fails the owning request. */
  private enter(method: "fireTimer" | "complete", args: unknown[]): void {
    if (this.dead) return;
    this.api[method]
      .apply(undefined, args, { arguments: { copy: true }, timeout: this.entryTimeout() })
      .catch(async (error: unknown) => {
        if (this.isolate.isDisposed) {
          this.classify(error, undefined); // fails every request in flight
          return;
        }
        // Blame the request whose code ran over; the isolate knows which one it was running.
        const owner = (await this.api.current.apply(undefined, [], { timeout: 50 }).catch(() => undefined)) as string | undefined;
        const failure = this.classify(error, owner);
        if (owner !== undefined) this.inflight.get(owner)?.fail(failure);
      });
  }

  private entryTimeout(): number {
    return (this.binding?.cpuMs ?? 50) * WALL_PER_CPU;
  }

  private failAll(error: RuntimeError): void {
    this.deathReason ??= error;
    for (const entry of this.inflight.values()) entry.fail(error);
    this.inflight.clear();
  }

  private requireBinding(): SandboxBinding {
    if (this.binding === undefined) throw new Error("no function loaded in this sandbox");
    if (this.deathReason !== undefined) throw this.deathReason;
    return this.binding;
  }

  /** Turns what an apply rejected with into the RuntimeError the caller sees. */
  private classify(error: unknown, requestId: string | undefined): RuntimeError {
    if (error instanceof RuntimeError) return error;
    const service = this.binding?.service ?? "?";
    const message = error instanceof Error ? error.message : String(error);
    if (this.isolate.isDisposed || /disposed/i.test(message)) {
      const memory = /memory/i.test(message) || this.isolate.isDisposed;
      const failure = memory
        ? new RuntimeError("ERR_MEMORY_LIMIT", `function "${service}" went over its memory limit of ${this.memoryMb} MB`, {
            status: 503,
            hint: "use less memory per request, or raise spec.limits.memoryMb in edgefn.yaml",
            cause: error,
          })
        : new RuntimeError("ERR_ISOLATE_CRASHED", `the isolate of function "${service}" stopped`, { status: 502, cause: error });
      this.failAll(failure);
      return failure;
    }
    if (message === "Script execution timed out.") {
      return new RuntimeError(
        "ERR_CPU_LIMIT",
        `function "${service}" used more than its CPU budget of ${this.binding?.cpuMs ?? "?"} ms${requestId === undefined ? "" : ` in request ${requestId}`}`,
        { status: 503, hint: "do less work per request, or raise spec.limits.cpuMs in edgefn.yaml", cause: error },
      );
    }
    // isolated-vm copies errors by constructor (a TypeError); the custom name survives in the stack.
    if (error instanceof Error && (error.name === BAD_RESPONSE || error.stack?.startsWith(`${BAD_RESPONSE}:`) === true)) {
      return new RuntimeError("ERR_FUNCTION_BAD_RESPONSE", `function "${service}": ${message}`, {
        status: 502,
        hint: "return a Response (or a Promise of one) from fetch()",
      });
    }
    return new RuntimeError("ERR_FUNCTION_THREW", `function "${service}" threw: ${this.describe(error)}`, {
      status: 500,
      hint: "see the runtime log for the stack trace",
      cause: error,
    });
  }

  /** One line for a user-code error: "TypeError: x is not a function (index.ts:12:3)". */
  private describe(error: unknown): string {
    if (!(error instanceof Error)) return String(error);
    const stack = error.stack === undefined ? "" : (this.binding?.mapStack(error.stack) ?? error.stack);
    const at = /\(([^()]+:\d+:\d+)\)/.exec(stack.split("\n").slice(1).join("\n"))?.[1];
    return `${error.name}: ${error.message}${at === undefined ? "" : ` (at ${at})`}`;
  }

  /** The mapped stack of a user-code error, for the log. */
  stackOf(error: unknown): string | undefined {
    const cause = error instanceof RuntimeError ? error.cause : error;
    if (!(cause instanceof Error) || cause.stack === undefined) return undefined;
    return this.binding?.mapStack(cause.stack) ?? cause.stack;
  }
}

/** What compile* return with cached data options (isolated-vm's typings leave it out). */
type WithCachedData = ivm.CachedDataResult & { cachedDataRejected?: boolean };

async function compileGlobals(isolate: ivm.Isolate, code: string): Promise<ivm.Script> {
  if (globalsCache?.script === code) {
    const script = (await isolate.compileScript(code, { filename: GLOBALS_FILENAME, cachedData: globalsCache.data })) as ivm.Script & WithCachedData;
    if (script.cachedDataRejected !== true) return script;
  }
  const script = (await isolate.compileScript(code, { filename: GLOBALS_FILENAME, produceCachedData: true })) as ivm.Script & WithCachedData;
  if (script.cachedData !== undefined) globalsCache = { script: code, data: script.cachedData };
  return script;
}
