/** Inside the isolate: the Fetch Standard's Response. */
import type { HeaderList } from "../wire.ts";
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
import { exactBytes, isObject, tag, toByteString, toUSVString } from "./convert.ts";
import type { FormData } from "./form-data.ts";
import { Headers, appendHeaderInternal, cloneHeaders, getHeader, guardHeaders, headersFromWire, type HeadersInit } from "./headers.ts";
import type { ReadableStream } from "./streams.ts";
import { parseURL, serializeURL } from "./url.ts";
import { encodeUtf8 } from "./utf8.ts";

export interface ResponseInit {
  status?: number;
  statusText?: string;
  headers?: HeadersInit;
}

export type ResponseType = "basic" | "cors" | "default" | "error" | "opaque" | "opaqueredirect";

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

let bodyOf: (response: Response) => InnerBody | null;
let create: (fields: Fields) => Response;

interface Fields {
  type: ResponseType;
  status: number;
  statusText: string;
  headers: Headers;
  body: InnerBody | null;
  url: string;
  redirected: boolean;
}

/** Passed to the constructor by this module to get a bare instance it then fills in. */
const INTERNAL = Symbol("internal");

export class Response {
  #type: ResponseType = "default";
  #status = 200;
  #statusText = "";
  #headers!: Headers;
  #body: InnerBody | null = null;
  #url = "";
  #redirected = false;

  static {
    bodyOf = (r) => r.#body;
    create = (f) => {
      const response = new Response(INTERNAL as never);
      response.#type = f.type;
      response.#status = f.status;
      response.#statusText = f.statusText;
      response.#headers = f.headers;
      response.#body = f.body;
      response.#url = f.url;
      response.#redirected = f.redirected;
      return response;
    };
  }

  constructor(body: BodyInit | null = null, init: ResponseInit = {}) {
    if ((body as unknown) === INTERNAL) return;
    if (init !== undefined && init !== null && !isObject(init)) throw new TypeError("Response constructor: init must be an object.");
    init ??= {};
    this.#initialize(init, body === undefined || body === null ? null : extractBody(body));
  }

  /** The spec's "initialize a response". */
  #initialize(init: ResponseInit, extracted: { body: InnerBody; type: string | null } | null): void {
    if (init.status !== undefined) {
      // WebIDL unsigned short, then the range check.
      const status = (Math.trunc(Number(init.status)) || 0) & 0xffff;
      if (status < 200 || status > 599) {
        throw new RangeError(`Response constructor: status ${String(init.status)} is not in the range 200 to 599.`);
      }
      this.#status = status;
    }
    if (init.statusText !== undefined) {
      const statusText = toByteString(init.statusText, "Response constructor");
      if (!REASON_PHRASE.test(statusText)) throw new TypeError(`Response constructor: invalid statusText "${statusText}".`);
      this.#statusText = statusText;
    }
    this.#headers = init.headers === undefined ? new Headers() : new Headers(init.headers);
    if (extracted !== null) {
      if (NULL_BODY_STATUS.has(this.#status)) {
        throw new TypeError(`Response constructor: a response with status ${this.#status} cannot have a body.`);
      }
      this.#body = extracted.body;
      if (extracted.type !== null && getHeader(this.#headers, "content-type") === null) {
        appendHeaderInternal(this.#headers, "content-type", extracted.type);
      }
    }
  }

  static error(): Response {
    return create({ type: "error", status: 0, statusText: "", headers: guardHeaders(new Headers(), "immutable"), body: null, url: "", redirected: false });
  }

  static redirect(url: string | URL, status = 302): Response {
    const text = toUSVString(url);
    const parsed = parseURL(text);
    if (parsed === null) throw new TypeError(`Response.redirect: invalid URL "${text}" (it must be absolute).`);
    const code = (Math.trunc(Number(status)) || 0) & 0xffff;
    if (!REDIRECT_STATUS.has(code)) throw new RangeError(`Response.redirect: ${String(status)} is not a redirect status (301, 302, 303, 307 or 308).`);
    const headers = new Headers();
    appendHeaderInternal(headers, "location", serializeURL(parsed));
    return create({ type: "default", status: code, statusText: "", headers: guardHeaders(headers, "immutable"), body: null, url: "", redirected: false });
  }

  static json(data: unknown, init: ResponseInit = {}): Response {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("Response.json: the data is not JSON serializable.");
    const response = new Response(INTERNAL as never);
    response.#type = "default";
    response.#status = 200;
    response.#statusText = "";
    response.#body = null;
    response.#url = "";
    response.#redirected = false;
    response.#initialize(init ?? {}, { body: bodyFromBytes(encodeUtf8(text)), type: "application/json" });
    return response;
  }

  get type(): ResponseType {
    return this.#type;
  }

  get url(): string {
    return this.#url;
  }

  get redirected(): boolean {
    return this.#redirected;
  }

  get status(): number {
    return this.#status;
  }

  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText(): string {
    return this.#statusText;
  }

  get headers(): Headers {
    return this.#headers;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return bodyStream(this.#body);
  }

  get bodyUsed(): boolean {
    return isUsed(this.#body);
  }

  clone(): Response {
    if (isUnusable(this.#body)) throw new TypeError("Response.clone: Body has already been consumed.");
    return create({
      type: this.#type,
      status: this.#status,
      statusText: this.#statusText,
      headers: cloneHeaders(this.#headers),
      body: this.#body === null ? null : cloneBody(this.#body),
      url: this.#url,
      redirected: this.#redirected,
    });
  }

  text(): Promise<string> {
    return bodyText(this.#body, "Response.text");
  }

  json(): Promise<unknown> {
    return bodyJson(this.#body, "Response.json");
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return bodyArrayBuffer(this.#body, "Response.arrayBuffer");
  }

  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return bodyBytes(this.#body, "Response.bytes");
  }

  blob(): Promise<Blob> {
    return bodyBlob(this.#body, this.#headers, "Response.blob");
  }

  formData(): Promise<FormData> {
    return bodyFormData(this.#body, this.#headers, "Response.formData");
  }
}
tag(Response, "Response");

/** The body of a response, for handing it to the host. */
export function responseBody(response: Response): InnerBody | null {
  return bodyOf(response);
}

/** A Response from what the host fetched: immutable headers, as fetch() gives in Workers. */
export function responseFromWire(
  wire: { status: number; statusText: string; headers: HeaderList; body: Uint8Array | null },
  url: string,
  redirected: boolean,
): Response {
  return create({
    type: "basic",
    status: wire.status,
    statusText: wire.statusText,
    headers: headersFromWire(wire.headers, "immutable"),
    body: wire.body === null || NULL_BODY_STATUS.has(wire.status) ? null : bodyFromBytes(exactBytes(wire.body)),
    url,
    redirected,
  });
}
