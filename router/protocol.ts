/**
 * The VAN wire contract (DESIGN.md "The VAN"): `fn/<name>` addresses, HTTP <-> AMQP 1.0 message
 * mapping, and which delivery outcomes a caller may resend. A leaf: zod only, no rhea, so the
 * runtime and the cli can import it; it works on plain objects shaped like rhea's `Message`.
 *
 * Mapping, as Qpid Dispatch Router's HTTP/1 adaptor does it (http1_client.c / http1_server.c):
 * - request: `to` = `fn/<name>`, `subject` = method, `reply_to`, `message_id` (a string here;
 *   Dispatch uses a ulong), `application_properties` = `":path"` (request target, query included)
 *   then one entry per header; body = data section(s).
 * - reply: `to` = the request's `reply_to`, `correlation_id` = its `message_id`, `subject` =
 *   status code as a string, headers in `application_properties`, body = data section(s).
 * - Keys starting with ":" are pseudo-headers. Dispatch also sends `:version` (and `:reason` on
 *   replies); we do not send them and ignore any we receive.
 *
 * Repeated headers: Dispatch writes one map entry per header line, so a repeated header becomes
 * a duplicate map key. AMQP maps forbid duplicate keys and rhea decodes maps into JS objects, so
 * we cannot: repeated headers are joined into one value, with ", " as RFC 9110 §5.3 allows for
 * list-valued fields, except `set-cookie`, which must never be comma-folded (RFC 9110 §5.3,
 * RFC 6265 §3: its dates contain commas). Its values are joined with "\n" instead, which no header
 * value may contain (RFC 9110 §5.5), and split again on decode, so every cookie survives. Names
 * are lower-cased on decode (Dispatch keeps the sender's case).
 *
 * Deadline: `properties.absolute_expiry_time` (an AMQP timestamp, epoch ms), not an application
 * property: it is the standard field for "worthless after", every AMQP router and broker carries it
 * untouched end to end (Dispatch included), and it keeps the header map for HTTP headers only. It
 * is absolute, so sites need roughly synced clocks (NTP); the header `ttl` is relative but is not
 * reduced by the time a message spends in routers. rhea takes a Date or a number and gives back a
 * Date. An idempotency key travels as the `idempotency-key` header, where the function sees it too.
 *
 * Body seam: here `body` is plain bytes, `Uint8Array | null`, meaning one data section, or none
 * (null; rhea then sends an amqp-value null). This module cannot build rhea's data section, so the
 * sender wraps it: `withDataSection(message, rhea.message.data_section)`. On the way in, fromAmqp*
 * accept what rhea decodes as is (a data `Section` `{ typecode: 0x75, content }`, one buffer or
 * several, concatenated) as well as plain bytes, so receivers pass the rhea message straight in.
 */
import { z } from "zod";

export const FUNCTION_ADDRESS_PREFIX = "fn/";
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `fn/<name>` for a function name (a DNS-1123 label); throws ERR_ADDRESS_INVALID otherwise. */
export function functionAddress(name: string): string {
  if (!isFunctionName(name)) {
    throw new ProtocolError("ERR_ADDRESS_INVALID", `"${name}" is not a function name, so it has no fn/<name> address.`, {
      hint: "Function names are DNS-1123 labels: lower-case letters, digits and '-', at most 63 characters.",
    });
  }
  return FUNCTION_ADDRESS_PREFIX + name;
}

/** The function name of an `fn/<name>` address, or null for any other address. */
export function parseFunctionAddress(address: string): string | null {
  if (!address.startsWith(FUNCTION_ADDRESS_PREFIX)) return null;
  const name = address.slice(FUNCTION_ADDRESS_PREFIX.length);
  return isFunctionName(name) ? name : null;
}

function isFunctionName(name: string): boolean {
  return name.length <= 63 && DNS_LABEL.test(name);
}

// ---------------------------------------------------------------------------------------------
// Errors

/** The codes this leaf throws; RouterError has the same codes and conditions (errors.ts). */
export type ProtocolErrorCode =
  | "ERR_DECODE" // peer: a message failed the wire contract; goes out as amqp:decode-error
  | "ERR_ADDRESS_INVALID"; // user: a function name that is not a DNS-1123 label; amqp:invalid-field

export const PROTOCOL_ERROR_CONDITIONS = {
  ERR_DECODE: "amqp:decode-error",
  ERR_ADDRESS_INVALID: "amqp:invalid-field",
} as const satisfies Record<ProtocolErrorCode, string>;

/**
 * Thrown by this module. Its own class because a leaf imports nothing from its folder and errors
 * are not shared between folders: the router and the runtime recognise it by `code` and
 * `toAmqpError()` (duck typing), or wrap it in their own error with `{ cause }`.
 */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly condition: (typeof PROTOCOL_ERROR_CONDITIONS)[ProtocolErrorCode];
  readonly hint: string | undefined;
  readonly issues: { path: string; message: string }[] | undefined;

  constructor(
    code: ProtocolErrorCode,
    message: string,
    opts: { hint?: string; cause?: unknown; issues?: { path: string; message: string }[] } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "ProtocolError";
    this.code = code;
    this.condition = PROTOCOL_ERROR_CONDITIONS[code];
    this.hint = opts.hint;
    this.issues = opts.issues;
  }

  /** The AMQP error as rhea takes it: `delivery.reject(err.toAmqpError())`. */
  toAmqpError(): { condition: string; description: string } {
    return { condition: this.condition, description: this.message };
  }
}

// ---------------------------------------------------------------------------------------------
// Shapes

/** Header lines in order, names lower-case; a name may repeat. */
export type HttpHeaders = [name: string, value: string][];

export interface HttpRequest {
  method: string;
  /** Request target: path and query, still percent-encoded (`/a%20b?q=1`). */
  path: string;
  headers: HttpHeaders;
  body: Uint8Array | null;
}

export interface HttpResponse {
  status: number;
  headers: HttpHeaders;
  body: Uint8Array | null;
}

/** A call as it goes on the wire, before `withDataSection`. */
export interface AmqpRequestMessage {
  to: string;
  subject: string;
  reply_to: string;
  message_id: string;
  absolute_expiry_time?: Date;
  application_properties: Record<string, string>;
  body: Uint8Array | null;
}

/** A reply as it goes on the wire, before `withDataSection`. */
export interface AmqpResponseMessage {
  to: string;
  correlation_id: string;
  subject: string;
  application_properties: Record<string, string>;
  body: Uint8Array | null;
}

/** A decoded call: the HTTP request and where its reply goes. */
export interface IncomingCall {
  /** The function name from `to`. */
  name: string;
  request: HttpRequest;
  replyTo: string;
  messageId: string;
  /** Epoch ms after which the reply is worthless, from `absolute_expiry_time`. */
  deadline: number | undefined;
  /** Where the call came from, when an edgefn router said (ORIGIN_ANNOTATION). */
  origin: { site: string; trusted: boolean } | undefined;
}

/** A decoded reply: the HTTP response and the `message_id` of the call it answers. */
export interface IncomingReply {
  correlationId: string;
  response: HttpResponse;
}

export const PATH_PROPERTY = ":path";
/**
 * Message annotations an edgefn router sets on each call: the site it came from, and that
 * site's trust (from its certificate). Another network (Qpid Dispatch) sets neither.
 */
export const ORIGIN_ANNOTATION = "x-opt-edgefn-origin";
export const ORIGIN_TRUST_ANNOTATION = "x-opt-edgefn-origin-trust";
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
/** The one header whose repeats are joined with "\n" rather than ", " (see the header comment). */
const SET_COOKIE = "set-cookie";
/** rhea's typecode for a data section (amqp:data:binary). */
export const DATA_SECTION_TYPECODE = 0x75;

// ---------------------------------------------------------------------------------------------
// Encoding

export interface ToAmqpRequestOptions {
  to: string;
  replyTo: string;
  messageId: string;
  /** Epoch ms; sent as `absolute_expiry_time`. */
  deadline?: number;
  /** Sent as the `idempotency-key` header, replacing any such header in the request. */
  idempotencyKey?: string;
}

export function toAmqpRequest(req: HttpRequest, opts: ToAmqpRequestOptions): AmqpRequestMessage {
  const headers = opts.idempotencyKey === undefined
    ? req.headers
    : [...req.headers.filter(([name]) => name !== IDEMPOTENCY_KEY_HEADER), [IDEMPOTENCY_KEY_HEADER, opts.idempotencyKey] as [string, string]];
  return {
    to: opts.to,
    subject: req.method,
    reply_to: opts.replyTo,
    message_id: opts.messageId,
    ...(opts.deadline === undefined ? {} : { absolute_expiry_time: new Date(opts.deadline) }),
    application_properties: { [PATH_PROPERTY]: req.path, ...joinHeaders(headers) },
    body: req.body,
  };
}

export function toAmqpResponse(res: HttpResponse, request: { reply_to: string; message_id: string }): AmqpResponseMessage {
  return {
    to: request.reply_to,
    correlation_id: request.message_id,
    subject: String(res.status),
    application_properties: joinHeaders(res.headers),
    body: res.body,
  };
}

/**
 * The message with its body as rhea sends it: pass `rhea.message.data_section`. A null body is
 * left out, so rhea sends no data section.
 *
 * @example sender.send(withDataSection(toAmqpRequest(req, opts), rhea.message.data_section))
 */
export function withDataSection<M extends { body: Uint8Array | null }, S>(
  message: M,
  dataSection: (bytes: Uint8Array) => S,
): Omit<M, "body"> & { body?: S } {
  const { body, ...rest } = message;
  return body === null ? rest : { ...rest, body: dataSection(body) };
}

function joinHeaders(headers: HttpHeaders): Record<string, string> {
  const joined = new Map<string, string>();
  for (const [name, value] of headers) {
    const before = joined.get(name);
    joined.set(name, before === undefined ? value : before + (name === SET_COOKIE ? "\n" : ", ") + value);
  }
  return Object.fromEntries(joined);
}

// ---------------------------------------------------------------------------------------------
// Decoding

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** origin-form (`/p?q`) or asterisk-form (`*`); no whitespace or controls (RFC 9112 §3.2). */
const REQUEST_TARGET = /^(\*|\/[^\s\x00-\x1f\x7f]*)$/;
const BAD_VALUE_CHARS = /[\r\n\0]/;

const BytesSchema = z.instanceof(Uint8Array);

/** What rhea decodes a data section into: `Section { typecode: 0x75, content, multiple }`. */
const DataSectionSchema = z.object({
  typecode: z.literal(DATA_SECTION_TYPECODE, { error: "must be a data section (amqp:data), not an amqp-value or amqp-sequence" }),
  content: z.union([BytesSchema, z.array(BytesSchema)], { error: "must be binary" }),
});

const BodySchema = z
  .union([z.null(), BytesSchema, DataSectionSchema], { error: "must be data section(s) or absent" })
  .optional() // no body section at all, as Dispatch sends a request without a body
  .transform((body): Uint8Array | null => {
    if (body === null || body === undefined) return null;
    if (body instanceof Uint8Array) return plain(body);
    return Array.isArray(body.content) ? concat(body.content) : plain(body.content);
  });

const HeaderValueSchema = z.string({ error: "must be a string" });

function checkHeaders(props: Record<string, string>, ctx: z.RefinementCtx): void {
  for (const [name, value] of Object.entries(props)) {
    if (name.startsWith(":")) continue;
    if (!TOKEN.test(name)) ctx.addIssue({ code: "custom", path: [name], message: "is not a valid header name" });
    else if (BAD_VALUE_CHARS.test(name.toLowerCase() === SET_COOKIE ? value.replaceAll("\n", "") : value)) {
      ctx.addIssue({ code: "custom", path: [name], message: "must not contain CR, LF or NUL" });
    }
  }
}

const HeadersSchema = z.record(z.string(), HeaderValueSchema).superRefine(checkHeaders);

const MessageIdSchema = z.string({ error: "must be a string" }).min(1, "must not be empty");

const RequestMessageSchema = z.object({
  to: z.string({ error: "must be a string" }).refine((to) => parseFunctionAddress(to) !== null, "must be an fn/<name> address"),
  subject: z.string({ error: "must be the HTTP method" }).regex(TOKEN, "must be an HTTP method token"),
  reply_to: z.string({ error: "must be a string" }).min(1, "must not be empty"),
  message_id: MessageIdSchema,
  absolute_expiry_time: z
    .union([z.date(), z.number()], { error: "must be a timestamp" })
    .nullish()
    .transform((t) => (t === null || t === undefined ? undefined : t instanceof Date ? t.getTime() : t))
    .refine((t) => t === undefined || Number.isFinite(t), "must be a valid timestamp"),
  application_properties: z
    .object({ [PATH_PROPERTY]: z.string({ error: "must be the request target" }).regex(REQUEST_TARGET, "must be a request target (/path?query or *)") })
    .catchall(HeaderValueSchema)
    .superRefine(checkHeaders),
  body: BodySchema,
});

const ResponseMessageSchema = z.object({
  to: z.string({ error: "must be a string" }).min(1, "must not be empty"),
  correlation_id: MessageIdSchema,
  subject: z.string({ error: "must be the status code" }).regex(/^[1-5][0-9]{2}$/, "must be an HTTP status code (100-599)"),
  application_properties: HeadersSchema.nullish(),
  body: BodySchema,
});

/** Decode a call; throws ProtocolError ERR_DECODE (amqp:decode-error) naming the bad field. */
export function fromAmqpRequest(message: unknown): IncomingCall {
  const m = decode(RequestMessageSchema, message, "request");
  const name = parseFunctionAddress(m.to)!; // checked by the schema
  return {
    name,
    request: { method: m.subject, path: m.application_properties[PATH_PROPERTY], headers: splitHeaders(m.application_properties), body: m.body },
    replyTo: m.reply_to,
    messageId: m.message_id,
    deadline: m.absolute_expiry_time,
    origin: originOf(message),
  };
}

function originOf(message: unknown): IncomingCall["origin"] {
  const annotations = (message as { message_annotations?: Record<string, unknown> }).message_annotations;
  const site = annotations?.[ORIGIN_ANNOTATION];
  if (typeof site !== "string") return undefined;
  return { site, trusted: annotations?.[ORIGIN_TRUST_ANNOTATION] !== "untrusted" };
}

/** Decode a reply; throws ProtocolError ERR_DECODE (amqp:decode-error) naming the bad field. */
export function fromAmqpResponse(message: unknown): IncomingReply {
  const m = decode(ResponseMessageSchema, message, "reply");
  return {
    correlationId: m.correlation_id,
    response: { status: Number(m.subject), headers: splitHeaders(m.application_properties ?? {}), body: m.body },
  };
}

function decode<T extends z.ZodType>(schema: T, message: unknown, kind: string): z.output<T> {
  const result = schema.safeParse(message);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  const first = issues[0]!;
  const what = first.path === "" ? `AMQP ${kind} message is invalid` : `AMQP ${kind} message has an invalid ${first.path}`;
  return fail(`${what}: ${first.message}.`, issues, result.error);
}

function fail(message: string, issues: { path: string; message: string }[], cause: unknown): never {
  throw new ProtocolError("ERR_DECODE", message, {
    issues,
    cause,
    hint: "The sender does not follow the edgefn VAN mapping (router/protocol.ts); check its version.",
  });
}

/** `application_properties[":path"]`, `body.content`: dots for identifiers, brackets otherwise. */
function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) =>
      typeof key === "number" ? `[${key}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(String(key)) ? (i === 0 ? "" : ".") + String(key) : `[${JSON.stringify(String(key))}]`,
    )
    .join("");
}

function splitHeaders(props: Record<string, string>): HttpHeaders {
  const headers: HttpHeaders = [];
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith(":")) continue;
    const name = key.toLowerCase();
    if (name === SET_COOKIE) for (const cookie of value.split("\n")) headers.push([name, cookie]);
    else headers.push([name, value]);
  }
  return headers;
}

function plain(bytes: Uint8Array): Uint8Array {
  // A view, not a copy: Buffers come out as plain Uint8Arrays, so callers see one type.
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Delivery outcomes

/** AMQP 1.0 delivery outcomes, as rhea names its `delivery.accept()`, `release()`, ... */
export const DELIVERY_OUTCOMES = {
  ACCEPTED: "accepted",
  RELEASED: "released",
  MODIFIED: "modified",
  REJECTED: "rejected",
} as const;

export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[keyof typeof DELIVERY_OUTCOMES];

/** RFC 9110 §9.2.2. Methods are case-sensitive, so "get" is not GET and is not resent. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/**
 * Whether a caller may send a call again after this outcome (DESIGN.md "Failures"). RELEASED:
 * never reached a consumer, always safe. MODIFIED: a consumer had it and was lost, so it may have
 * run: only idempotent methods or calls with an `Idempotency-Key`. REJECTED: the consumer refused
 * it as malformed, and would again. ACCEPTED: done, nothing to resend.
 */
export function mayResend(
  outcome: DeliveryOutcome,
  method: string,
  headers: HttpHeaders | Readonly<Record<string, unknown>>,
): boolean {
  switch (outcome) {
    case DELIVERY_OUTCOMES.RELEASED:
      return true;
    case DELIVERY_OUTCOMES.MODIFIED:
      return IDEMPOTENT_METHODS.has(method) || hasIdempotencyKey(headers);
    case DELIVERY_OUTCOMES.REJECTED:
    case DELIVERY_OUTCOMES.ACCEPTED:
      return false;
  }
}

function hasIdempotencyKey(headers: HttpHeaders | Readonly<Record<string, unknown>>): boolean {
  const entries: [string, unknown][] = Array.isArray(headers) ? headers : Object.entries(headers);
  return entries.some(([name, value]) => name.toLowerCase() === IDEMPOTENCY_KEY_HEADER && typeof value === "string" && value.trim() !== "");
}
