/**
 * Inside the isolate: the IsolateApi the host drives (see ../wire.ts): takes the user's
 * handler, runs it per request with env and ctx, and hands its Response back as plain data,
 * streaming bodies chunk by chunk through pull().
 */
import { BAD_RESPONSE, type ContextWire, type EnvWire, type IsolateApi, type RequestWire, type ResponseWire } from "../wire.ts";
import { describe, readBody } from "./body.ts";
import { concatBytes, exactBytes } from "./convert.ts";
import { setCurrentRequestId } from "./current.ts";
import { fetchVia } from "./fetch.ts";
import { headersToWire } from "./headers.ts";
import type { Host } from "./host.ts";
import { requestFromWire, type Request, type RequestInit } from "./request.ts";
import { Response, responseBody } from "./response.ts";
import { hasQueuedChunk, isFullyBuffered, type ReadableStream, type ReadableStreamDefaultReader } from "./streams.ts";
import { fireTimer } from "./timers.ts";

interface Handler {
  fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): unknown;
}

export interface ExecutionContext extends ContextWire {
  waitUntil(promise: unknown): void;
  passThroughOnException(): void;
  /** Always {}: Workers' ctx.props, which Hono's types expect. */
  props: Record<string, never>;
}

interface OpenStream {
  stream: ReadableStream<Uint8Array>;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  requestId: string;
  /** The source ended while a pull still had bytes to return: the next pull says so. */
  ended: boolean;
}

interface Pending {
  count: number;
  waiters: (() => void)[];
}

/** Several queued chunks go to the host in one pull, up to this many bytes. */
const PULL_BYTES = 64 * 1024;

/** The IsolateApi but for what index.ts adds from host.ts and current.ts. */
export type FetchApi = Omit<IsolateApi, "complete" | "current">;

export function createIsolateApi(host: Host): FetchApi {
  let handler: Handler | null = null;
  const streams = new Map<number, OpenStream>();
  let nextStream = 1;
  const pending = new Map<string, Pending>();

  function waitUntil(requestId: string, promise: unknown): void {
    let entry = pending.get(requestId);
    if (entry === undefined) {
      entry = { count: 0, waiters: [] };
      pending.set(requestId, entry);
    }
    const e = entry;
    e.count++;
    const done = () => {
      if (--e.count > 0) return;
      pending.delete(requestId);
      for (const resolve of e.waiters) resolve();
    };
    Promise.resolve(promise).then(done, (error: unknown) => {
      host.log("error", requestId, `Uncaught (in ctx.waitUntil promise) ${error instanceof Error ? (error.stack ?? String(error)) : String(error)}`);
      done();
    });
  }

  function createEnv(wire: EnvWire, requestId: string): Record<string, unknown> {
    const env: Record<string, unknown> = { ...wire.vars };
    for (const [binding, target] of Object.entries(wire.services)) {
      env[binding] = {
        fetch: (input: Request | string | URL, init?: RequestInit) =>
          fetchVia(input, init, (request) => host.service(target, request, requestId)),
      };
    }
    return env;
  }

  function createContext(wire: ContextWire): ExecutionContext {
    const requestId = wire.requestId;
    return {
      site: wire.site,
      region: wire.region,
      priority: wire.priority,
      requestId,
      waitUntil: (promise: unknown) => waitUntil(requestId, promise),
      passThroughOnException: () => {},
      props: {},
    };
  }

  async function toWire(response: Response, requestId: string): Promise<ResponseWire> {
    if (response.type === "error") {
      throw badResponse("fetch() returned Response.error(), a network error, which has no HTTP form; return a Response with an error status (such as 502) instead.");
    }
    const wire: ResponseWire = {
      status: response.status,
      statusText: response.statusText,
      headers: headersToWire(response.headers),
      body: null,
      stream: null,
      waitUntil: pending.has(requestId),
    };
    const body = responseBody(response);
    if (body === null) return wire;
    if (response.bodyUsed || (body.stream !== null && body.stream.locked)) {
      throw badResponse("fetch() returned a Response whose body has already been read or is locked; return a new Response, or a clone() taken before reading.");
    }
    if (body.stream === null || isFullyBuffered(body.stream)) {
      wire.body = await readBody(body, "Response");
      return wire;
    }
    const id = nextStream++;
    streams.set(id, { stream: body.stream, reader: body.stream.getReader(), requestId, ended: false });
    wire.stream = id;
    return wire;
  }

  return {
    setHandler(value: unknown): void {
      handler = checkHandler(value);
    },

    async dispatch(wire: RequestWire, ctx: ContextWire, env: EnvWire): Promise<ResponseWire> {
      const requestId = ctx.requestId;
      setCurrentRequestId(requestId);
      if (handler === null) throw new TypeError("edgefn: no handler: setHandler() was not called before dispatch().");
      let result: unknown;
      try {
        result = await handler.fetch(requestFromWire(wire), createEnv(env, requestId), createContext(ctx));
      } catch (error) {
        setCurrentRequestId(requestId);
        if (error instanceof Error) throw error;
        throw new Error(`fetch() threw a non-Error value: ${safeString(error)}`);
      }
      setCurrentRequestId(requestId);
      if (!(result instanceof Response)) {
        throw badResponse(`fetch() must return a Response (or a promise of one), but it returned ${describeResult(result)}.`);
      }
      return toWire(result, requestId);
    },

    async pull(id: number): Promise<Uint8Array | null> {
      const open = streams.get(id);
      if (open === undefined) return null;
      setCurrentRequestId(open.requestId);
      if (open.ended) {
        streams.delete(id);
        return null;
      }
      const chunks: Uint8Array[] = [];
      let total = 0;
      try {
        for (;;) {
          const { done, value } = await open.reader.read();
          setCurrentRequestId(open.requestId);
          if (done) {
            open.ended = true;
            break;
          }
          if (!(value instanceof Uint8Array)) {
            throw new TypeError(
              `The Response body stream gave ${describe(value)} chunk; body streams must give Uint8Array chunks (encode text with TextEncoder, or pipe it through TextEncoderStream).`,
            );
          }
          if (value.byteLength === 0) continue;
          chunks.push(value);
          total += value.byteLength;
          if (total >= PULL_BYTES || !hasQueuedChunk(open.stream)) break;
        }
      } catch (error) {
        streams.delete(id);
        open.reader.cancel(error).catch(() => {});
        throw error;
      }
      if (chunks.length === 0) {
        streams.delete(id);
        return null;
      }
      return exactBytes(concatBytes(chunks, total));
    },

    cancel(id: number): void {
      const open = streams.get(id);
      if (open === undefined) return;
      streams.delete(id);
      setCurrentRequestId(open.requestId);
      open.reader.cancel(new Error("the client went away")).catch(() => {});
    },

    settled(requestId: string): Promise<void> {
      const entry = pending.get(requestId);
      if (entry === undefined) return Promise.resolve();
      return new Promise((resolve) => entry.waiters.push(resolve));
    },

    fireTimer(id: number): void {
      fireTimer(id);
    },
  };
}

function checkHandler(value: unknown): Handler {
  const example = "export default { async fetch(request, env, ctx) { return new Response(\"hello\"); } } (or `export default app` for a Hono app)";
  if (value === undefined || value === null) {
    throw new TypeError(`The function has no default export; it must export an object with a fetch(request, env, ctx) method: ${example}.`);
  }
  if (typeof value !== "object" && typeof value !== "function") {
    throw new TypeError(`The function's default export is ${describe(value)}, not an object with a fetch(request, env, ctx) method: ${example}.`);
  }
  const fetch = (value as { fetch?: unknown }).fetch;
  if (typeof fetch === "function") return value as Handler;
  if (fetch === undefined) {
    const keys = Object.keys(value);
    const has = keys.length === 0 ? "no properties" : `only ${keys.slice(0, 8).join(", ")}${keys.length > 8 ? ", ..." : ""}`;
    const what = typeof value === "function" ? "a function" : "an object";
    throw new TypeError(`The function's default export is ${what} with no fetch method (it has ${has}); it must have fetch(request, env, ctx): ${example}.`);
  }
  throw new TypeError(`The function's default export has a fetch property that is ${describe(fetch)}, not a function: ${example}.`);
}

function describeResult(value: unknown): string {
  if (value === undefined) return "undefined (did you forget to return the Response?)";
  if (value === null) return "null";
  if (typeof value === "string") return "a string (wrap it: new Response(text))";
  return describe(value);
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * A TypeError the host can tell apart from user code's own TypeErrors (it maps this one to
 * 502 ERR_FUNCTION_BAD_RESPONSE): the name survives the copy out of the isolate.
 */
function badResponse(message: string): TypeError {
  const error = new TypeError(message);
  error.name = BAD_RESPONSE;
  return error;
}
