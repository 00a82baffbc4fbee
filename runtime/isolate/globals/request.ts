/** Inside the isolate: the Fetch Standard's Request, as a server-side runtime has it. */
import type { RequestWire } from "../wire.ts";
import type { Blob } from "./blob.ts";
import {
  bodyArrayBuffer,
  bodyBlob,
  bodyBytes,
  bodyFormData,
  bodyFromBytes,
  bodyJson,
  bodyStream,
  bodyText,
  cloneBody,
  extractBody,
  isUnusable,
  isUsed,
  type BodyInit,
  type InnerBody,
} from "./body.ts";
import { TOKEN, exactBytes, isObject, tag, toByteString, toUSVString } from "./convert.ts";
import type { FormData } from "./form-data.ts";
import { Headers, appendHeaderInternal, cloneHeaders, getHeader, headersFromWire, type HeadersInit } from "./headers.ts";
import type { ReadableStream } from "./streams.ts";
import { parseURL, serializeURL } from "./url.ts";

export type RequestRedirect = "follow" | "error" | "manual";

export interface RequestInit {
  method?: string;
  headers?: HeadersInit;
  body?: BodyInit | null;
  redirect?: RequestRedirect;
  signal?: AbortSignal | null;
  cache?: string;
  credentials?: string;
  integrity?: string;
  keepalive?: boolean;
  mode?: string;
  referrer?: string;
  referrerPolicy?: string;
  duplex?: "half";
  priority?: string;
  window?: null;
}

const NORMALIZED_METHODS = new Map(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"].map((m) => [m.toLowerCase(), m]));
const FORBIDDEN_METHODS = new Set(["connect", "trace", "track"]);

function enumValue<T extends string>(value: unknown, allowed: readonly T[], member: string): T {
  const s = String(value);
  if (!(allowed as readonly string[]).includes(s)) {
    throw new TypeError(`Request constructor: "${s}" is not a valid value for ${member}; expected one of ${allowed.map((a) => `"${a}"`).join(", ")}.`);
  }
  return s as T;
}

/** Options that have no effect on a server, kept only so they read back as set. */
interface Extras {
  cache: string;
  credentials: string;
  integrity: string;
  keepalive: boolean;
  mode: string;
  referrer: string;
  referrerPolicy: string;
}

const DEFAULT_EXTRAS: Extras = {
  cache: "default",
  credentials: "same-origin",
  integrity: "",
  keepalive: false,
  mode: "cors",
  referrer: "about:client",
  referrerPolicy: "",
};

let internals: (request: Request) => { body: InnerBody | null; signal: AbortSignal | null | undefined; redirect: RequestRedirect };
let fromWire: (wire: RequestWire) => Request;

/** Passed to the constructor by this module to get a bare instance it then fills in. */
const INTERNAL = Symbol("internal");

export class Request {
  #method = "GET";
  #url = "";
  #headers!: Headers;
  #body: InnerBody | null = null;
  #redirect: RequestRedirect = "follow";
  /** The signal given (init or input); the request's own follows it, made on first access. */
  #parentSignal: AbortSignal | null | undefined;
  #signal: AbortSignal | undefined;
  #extras: Extras = DEFAULT_EXTRAS;

  static {
    internals = (r) => ({ body: r.#body, signal: r.#parentSignal, redirect: r.#redirect });
    fromWire = (wire) => {
      const request = new Request(INTERNAL as never);
      request.#method = wire.method;
      request.#url = wire.url;
      request.#headers = headersFromWire(wire.headers, "immutable");
      request.#body = wire.body === null ? null : bodyFromBytes(exactBytes(wire.body));
      request.#redirect = "manual";
      request.#parentSignal = undefined;
      request.#signal = undefined;
      request.#extras = DEFAULT_EXTRAS;
      return request;
    };
  }

  constructor(input: Request | string | URL, init: RequestInit = {}) {
    if ((input as unknown) === INTERNAL) return;
    if (arguments.length < 1) throw new TypeError("Request constructor: 1 argument required, but only 0 present.");
    if (init !== undefined && init !== null && !isObject(init)) throw new TypeError("Request constructor: init must be an object.");
    init ??= {};
    let inputBody: InnerBody | null = null;
    if (input instanceof Request) {
      this.#method = input.#method;
      this.#url = input.#url;
      this.#redirect = input.#redirect;
      this.#parentSignal = input.#parentSignal;
      this.#extras = input.#extras;
      inputBody = input.#body;
    } else {
      const text = toUSVString(input);
      const parsed = parseURL(text);
      if (parsed === null) throw new TypeError(`Request constructor: invalid URL "${text}" (it must be absolute, such as https://example.com/path).`);
      if (parsed.username !== "" || parsed.password !== "") {
        throw new TypeError(`Request constructor: the URL "${text}" includes credentials; send them in an Authorization header instead.`);
      }
      this.#url = serializeURL(parsed);
    }

    if (init.method !== undefined) {
      const method = toByteString(init.method, "Request constructor");
      if (!TOKEN.test(method)) throw new TypeError(`Request constructor: "${method}" is not a valid HTTP method.`);
      const lower = method.toLowerCase();
      if (FORBIDDEN_METHODS.has(lower)) throw new TypeError(`Request constructor: the ${method.toUpperCase()} method is forbidden.`);
      this.#method = NORMALIZED_METHODS.get(lower) ?? method;
    }
    if (init.redirect !== undefined) this.#redirect = enumValue(init.redirect, ["follow", "error", "manual"], "redirect");
    if ("signal" in init) {
      const signal = init.signal;
      if (signal !== undefined && signal !== null && !isAbortSignal(signal)) {
        throw new TypeError("Request constructor: signal must be an AbortSignal.");
      }
      if (signal !== undefined) this.#parentSignal = signal;
    }
    if (init.mode !== undefined && String(init.mode) === "navigate") {
      throw new TypeError("Request constructor: mode cannot be \"navigate\".");
    }
    if (
      init.cache !== undefined || init.credentials !== undefined || init.integrity !== undefined ||
      init.keepalive !== undefined || init.mode !== undefined || init.referrer !== undefined ||
      init.referrerPolicy !== undefined
    ) {
      this.#extras = {
        cache: init.cache === undefined ? this.#extras.cache : String(init.cache),
        credentials: init.credentials === undefined ? this.#extras.credentials : String(init.credentials),
        integrity: init.integrity === undefined ? this.#extras.integrity : String(init.integrity),
        keepalive: init.keepalive === undefined ? this.#extras.keepalive : Boolean(init.keepalive),
        mode: init.mode === undefined ? this.#extras.mode : String(init.mode),
        referrer: init.referrer === undefined ? this.#extras.referrer : String(init.referrer) === "" ? "" : "about:client",
        referrerPolicy: init.referrerPolicy === undefined ? this.#extras.referrerPolicy : String(init.referrerPolicy),
      };
    }

    this.#headers =
      init.headers !== undefined
        ? new Headers(init.headers)
        : input instanceof Request
          ? new Headers(input.#headers)
          : new Headers();

    const hasInitBody = init.body !== undefined && init.body !== null;
    if ((hasInitBody || inputBody !== null) && (this.#method === "GET" || this.#method === "HEAD")) {
      throw new TypeError("Request constructor: a request with GET/HEAD method cannot have a body.");
    }
    if (hasInitBody) {
      const { body, type } = extractBody(init.body);
      this.#body = body;
      if (type !== null && getHeader(this.#headers, "content-type") === null) appendHeaderInternal(this.#headers, "content-type", type);
    } else if (inputBody !== null) {
      // The input's body moves here; the input is left used.
      if (isUnusable(inputBody)) throw new TypeError("Request constructor: the input request's body is unusable: it has already been read.");
      this.#body = { ...inputBody };
      inputBody.bytes = null;
      inputBody.stream = null;
      inputBody.used = true;
    }
  }

  get method(): string {
    return this.#method;
  }

  get url(): string {
    return this.#url;
  }

  get headers(): Headers {
    return this.#headers;
  }

  get redirect(): RequestRedirect {
    return this.#redirect;
  }

  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      // The platform's AbortController, looked up now: it is installed after this module.
      const Controller = (globalThis as { AbortController?: typeof AbortController }).AbortController;
      if (Controller === undefined) throw new TypeError("Request.signal: AbortController is not available.");
      const controller = new Controller();
      const parent = this.#parentSignal;
      if (parent) {
        if (parent.aborted) controller.abort(parent.reason);
        else parent.addEventListener("abort", () => controller.abort(parent.reason), { once: true });
      }
      this.#signal = controller.signal;
    }
    return this.#signal;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return bodyStream(this.#body);
  }

  get bodyUsed(): boolean {
    return isUsed(this.#body);
  }

  get cache(): string {
    return this.#extras.cache;
  }

  get credentials(): string {
    return this.#extras.credentials;
  }

  get destination(): string {
    return "";
  }

  get duplex(): "half" {
    return "half";
  }

  get integrity(): string {
    return this.#extras.integrity;
  }

  get isHistoryNavigation(): boolean {
    return false;
  }

  get isReloadNavigation(): boolean {
    return false;
  }

  get keepalive(): boolean {
    return this.#extras.keepalive;
  }

  get mode(): string {
    return this.#extras.mode;
  }

  get referrer(): string {
    return this.#extras.referrer;
  }

  get referrerPolicy(): string {
    return this.#extras.referrerPolicy;
  }

  clone(): Request {
    if (isUnusable(this.#body)) throw new TypeError("Request.clone: Body has already been consumed.");
    const copy = new Request(INTERNAL as never);
    copy.#method = this.#method;
    copy.#url = this.#url;
    copy.#headers = cloneHeaders(this.#headers);
    copy.#body = this.#body === null ? null : cloneBody(this.#body);
    copy.#redirect = this.#redirect;
    copy.#parentSignal = this.#signal ?? this.#parentSignal;
    copy.#signal = undefined;
    copy.#extras = this.#extras;
    return copy;
  }

  text(): Promise<string> {
    return bodyText(this.#body, "Request.text");
  }

  json(): Promise<unknown> {
    return bodyJson(this.#body, "Request.json");
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return bodyArrayBuffer(this.#body, "Request.arrayBuffer");
  }

  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return bodyBytes(this.#body, "Request.bytes");
  }

  blob(): Promise<Blob> {
    return bodyBlob(this.#body, this.#headers, "Request.blob");
  }

  formData(): Promise<FormData> {
    return bodyFormData(this.#body, this.#headers, "Request.formData");
  }
}
tag(Request, "Request");

function isAbortSignal(value: unknown): value is AbortSignal {
  const Signal = (globalThis as { AbortSignal?: typeof AbortSignal }).AbortSignal;
  if (Signal !== undefined && value instanceof Signal) return true;
  return isObject(value) && typeof (value as { aborted?: unknown }).aborted === "boolean" && typeof (value as { addEventListener?: unknown }).addEventListener === "function";
}

/** The Request a function receives: headers immutable, body as the host read it. */
export function requestFromWire(wire: RequestWire): Request {
  return fromWire(wire);
}

/** What fetch() needs that the public API does not show. */
export function requestInternals(request: Request): { body: InnerBody | null; signal: AbortSignal | null | undefined; redirect: RequestRedirect } {
  return internals(request);
}
