/**
 * Inside the isolate: installs the fetch-related Web APIs on globalThis and the global
 * fetch(), which leaves the isolate only through the host's egress-checked fetch.
 */
import type { RequestWire, ResponseWire } from "../wire.ts";
import { Blob, File } from "./blob.ts";
import { readBody } from "./body.ts";
import { defineGlobals } from "./convert.ts";
import { currentRequestId, setCurrentRequestId } from "./current.ts";
import { FormData } from "./form-data.ts";
import { Headers, headersToWire } from "./headers.ts";
import type { Host } from "./host.ts";
import { Request, requestInternals, type RequestInit, type RequestRedirect } from "./request.ts";
import { Response, responseFromWire } from "./response.ts";
import { installStreams } from "./streams.ts";
import { installURL } from "./url.ts";

export { createIsolateApi } from "./dispatch.ts";

/**
 * Optional fields beyond wire.ts that fetch() sends and the egress answers with; a host
 * that ignores them still works (redirects then follow, and response.url is the request's).
 */
export interface FetchRequestWire extends RequestWire {
  redirect?: RequestRedirect;
}
export interface FetchResponseWire extends ResponseWire {
  /** Final URL after redirects. */
  url?: string;
  redirected?: boolean;
}

export function installFetch(globalObject: typeof globalThis, host: Host): void {
  const g = globalObject as unknown as Record<string, unknown>;
  installURL(g, host.domainToASCII);
  installStreams(g);
  const fetch = function fetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
    return fetchVia(input, init, (wire, requestId) => host.fetch(wire, requestId));
  };
  defineGlobals(g, { Headers, Request, Response, Blob, File, FormData, fetch });
}

/**
 * fetch() over a host function: `send` gets the whole request and resolves to the whole
 * response. A host rejection becomes a TypeError with the host's message (which says, for
 * instance, which spec.egress entry is missing), as fetch() failures are TypeErrors.
 */
export async function fetchVia(
  input: Request | string | URL,
  init: RequestInit | undefined,
  send: (wire: FetchRequestWire, requestId: string) => Promise<ResponseWire>,
): Promise<Response> {
  const request = new Request(input, init);
  const { body, signal, redirect } = requestInternals(request);
  if (signal?.aborted) throw signal.reason;
  const wire: FetchRequestWire = {
    method: request.method,
    url: request.url,
    headers: headersToWire(request.headers),
    body: body === null ? null : await readBody(body, "fetch"),
    redirect,
  };
  const requestId = currentRequestId();
  let answer: FetchResponseWire;
  try {
    answer = await whileNotAborted(send(wire, requestId), signal);
  } catch (error) {
    setCurrentRequestId(requestId);
    if (signal?.aborted) throw signal.reason;
    throw new TypeError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  setCurrentRequestId(requestId);
  if (answer.stream !== null && answer.stream !== undefined) {
    throw new TypeError(`fetch ${request.url}: the host answered with a streamed body, which fetch() cannot read.`);
  }
  return responseFromWire(answer, answer.url ?? request.url, answer.redirected ?? false);
}

/** Settles with `promise`, or rejects as soon as `signal` aborts (the host call runs on). */
function whileNotAborted<T>(promise: Promise<T>, signal: AbortSignal | null | undefined): Promise<T> {
  if (signal === null || signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
