/**
 * Host side of fetch() from inside an isolate: checks every target (and every redirect hop)
 * against the function's egress allow-list, then fetches with Node's fetch. Errors say
 * exactly which entry to add to spec.egress; the isolate turns them into TypeErrors.
 */
import { concatBytes } from "../bytes.ts";
import type { HeaderList, RequestWire, ResponseWire } from "./wire.ts";

export interface EgressOptions {
  /** The function's name, for error messages. */
  service: string;
  /** spec.egress entries: `host:port` or `*.domain:port` (any subdomain, not the apex). */
  allow: readonly string[];
  /** Largest response body accepted; default 32 MiB. */
  maxBodyBytes?: number;
}

export type EgressRedirect = "follow" | "error" | "manual";

/** The request fetch() sends: wire.ts's, plus the Request's redirect mode. */
export interface EgressRequestWire extends RequestWire {
  redirect?: EgressRedirect;
}

/** The answer: wire.ts's, plus the final URL and whether a redirect led there. */
export interface EgressResponseWire extends ResponseWire {
  url: string;
  redirected: boolean;
}

export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
const MAX_REDIRECTS = 20;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
/** Hop-by-hop (RFC 9110 7.6.1), plus what Node's fetch must compute itself. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);
const COMPUTED_REQUEST = new Set(["host", "content-length"]);
/** Codings Node's fetch decodes; the body arrives decoded, so the header must go. */
const DECODED_CODINGS = new Set(["gzip", "x-gzip", "deflate", "br", "zstd"]);
/** Dropped when a redirect turns the request into a GET (the Fetch Standard's list). */
const BODY_HEADERS = new Set(["content-type", "content-encoding", "content-language", "content-location"]);

/** `host:port` as an allow-list entry spells it, for one URL; null if not http(s). */
export function egressTarget(url: URL): string | null {
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const host = url.hostname.endsWith(".") ? url.hostname.slice(0, -1) : url.hostname;
  const port = url.port === "" ? (url.protocol === "https:" ? "443" : "80") : url.port;
  return `${host}:${port}`;
}

/** A matcher over spec.egress entries (lower-cased; `*.domain:port` wildcards). */
export function createAllowList(entries: readonly string[]): (target: string) => boolean {
  const exact = new Set<string>();
  const wildcards: { suffix: string; port: string }[] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    const colon = entry.lastIndexOf(":");
    if (colon <= 0) continue; // no port: the manifest schema rejects these
    if (entry.startsWith("*.")) wildcards.push({ suffix: entry.slice(1, colon), port: entry.slice(colon + 1) });
    else exact.add(entry);
  }
  return (target) => {
    if (exact.has(target)) return true;
    const colon = target.lastIndexOf(":");
    const host = target.slice(0, colon);
    const port = target.slice(colon + 1);
    return wildcards.some((w) => w.port === port && host.endsWith(w.suffix) && host.length > w.suffix.length);
  };
}

export function createEgressFetch(options: EgressOptions): (request: EgressRequestWire) => Promise<EgressResponseWire> {
  const allowed = createAllowList(options.allow);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const fix = (target: string) => `add "${target}" to spec.egress in its edgefn.yaml`;

  /** The target of `url` if allowed, else the Error to reject with. */
  function check(url: URL, redirectedFrom: string | null): Error | null {
    const target = egressTarget(url);
    if (target === null) {
      const what = redirectedFrom === null ? `fetch to ${url.href}` : `fetch to ${redirectedFrom} was redirected to ${url.href}, which`;
      return new Error(`${what} is not allowed: only http: and https: URLs can be fetched`);
    }
    if (allowed(target)) return null;
    if (redirectedFrom === null) {
      return new Error(`fetch to ${target} is not allowed for function "${options.service}": ${fix(target)}`);
    }
    return new Error(
      `fetch to ${redirectedFrom} was redirected to ${target} (${url.href}), which is not allowed for function "${options.service}": ${fix(target)}`,
    );
  }

  return async function egressFetch(request) {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      throw new Error(`fetch to ${request.url} is not allowed: it is not an absolute URL`);
    }
    const refused = check(url, null);
    if (refused !== null) throw refused;

    const mode = request.redirect ?? "follow";
    let method = request.method;
    let body = request.body;
    const headers = requestHeaders(request.headers);
    const firstURL = url.href;

    for (let redirects = 0; ; redirects++) {
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers,
          body: body === null || method === "GET" || method === "HEAD" ? null : body,
          redirect: "manual",
        });
      } catch (error) {
        throw new Error(`fetch to ${url.href} failed: ${describeNetworkError(error)}`, { cause: error });
      }

      const location = response.headers.get("location");
      if (!REDIRECT_STATUS.has(response.status) || location === null || mode === "manual") {
        return await toWire(response, method, url.href, redirects > 0);
      }
      await response.body?.cancel().catch(() => {});
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new Error(`fetch to ${url.href} was redirected to an invalid Location: ${location}`);
      }
      if (mode === "error") {
        throw new Error(`fetch to ${url.href} was redirected (${response.status}) to ${next.href}, and the request's redirect mode is "error"`);
      }
      if (redirects + 1 > MAX_REDIRECTS) {
        throw new Error(`fetch to ${firstURL} was redirected more than ${MAX_REDIRECTS} times (last to ${next.href})`);
      }
      const hopRefused = check(next, url.href);
      if (hopRefused !== null) throw hopRefused;
      // The Fetch Standard's "HTTP-redirect fetch": 303, and POST after 301/302, become GET.
      if (((response.status === 301 || response.status === 302) && method === "POST") || (response.status === 303 && method !== "GET" && method !== "HEAD")) {
        method = "GET";
        body = null;
        for (const name of BODY_HEADERS) headers.delete(name);
      }
      if (next.origin !== url.origin) headers.delete("authorization");
      url = next;
    }
  };

  async function toWire(response: Response, method: string, url: string, redirected: boolean): Promise<EgressResponseWire> {
    const headers: HeaderList = [];
    const hop = hopByHop(response.headers.get("connection"));
    const codings = (response.headers.get("content-encoding") ?? "").split(",").map((c) => c.trim().toLowerCase()).filter((c) => c !== "" && c !== "identity");
    const decoded = codings.length > 0 && codings.every((c) => DECODED_CODINGS.has(c));
    for (const [name, value] of response.headers) {
      if (hop.has(name)) continue;
      if (decoded && (name === "content-encoding" || name === "content-length")) continue;
      if (name === "set-cookie") continue;
      headers.push([name, value]);
    }
    for (const cookie of response.headers.getSetCookie()) headers.push(["set-cookie", cookie]);

    const noBody = method === "HEAD" || NULL_BODY_STATUS.has(response.status) || response.body === null;
    const body = noBody ? null : await readCapped(response, url);
    if (noBody) await response.body?.cancel().catch(() => {});
    return { status: response.status, statusText: response.statusText, headers, body, stream: null, url, redirected };
  }

  async function readCapped(response: Response, url: string): Promise<Uint8Array<ArrayBuffer>> {
    const tooLarge = () =>
      new Error(`response from ${url} is larger than the egress limit of ${formatBytes(maxBodyBytes)}; fetch less (a Range request, or a smaller page)`);
    const declared = Number(response.headers.get("content-length") ?? NaN);
    if (declared > maxBodyBytes && !response.headers.has("content-encoding")) {
      await response.body!.cancel().catch(() => {});
      throw tooLarge();
    }
    const reader = response.body!.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        throw new Error(`reading the response from ${url} failed: ${describeNetworkError(error)}`, { cause: error });
      }
      if (result.done) break;
      total += result.value.byteLength;
      if (total > maxBodyBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(result.value);
    }
    return concatBytes(chunks, total);
  }
}

function requestHeaders(list: HeaderList): Headers {
  const headers = new Headers();
  let connection: string | null = null;
  for (const [name, value] of list) if (name === "connection") connection = connection === null ? value : `${connection}, ${value}`;
  const hop = hopByHop(connection);
  for (const [name, value] of list) {
    if (hop.has(name) || COMPUTED_REQUEST.has(name)) continue;
    headers.append(name, value);
  }
  return headers;
}

/** The fixed hop-by-hop names plus any the Connection header lists. */
function hopByHop(connection: string | null): Set<string> {
  if (connection === null) return HOP_BY_HOP;
  const names = new Set(HOP_BY_HOP);
  for (const token of connection.split(",")) {
    const name = token.trim().toLowerCase();
    if (name !== "") names.add(name);
  }
  return names;
}

function describeNetworkError(error: unknown): string {
  let e: unknown = error;
  // Node's fetch says "fetch failed" and puts the reason in `cause`.
  while (e instanceof Error && e.message === "fetch failed" && e.cause !== undefined) e = e.cause;
  if (e instanceof AggregateError && e.errors.length > 0) e = e.errors[0];
  return e instanceof Error ? e.message : String(e);
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
