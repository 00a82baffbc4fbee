import rhea from "rhea";
import { describe, expect, it } from "vitest";
import { ROUTER_ERROR_CONDITIONS, RouterError } from "./errors.ts";
import {
  DELIVERY_OUTCOMES,
  PROTOCOL_ERROR_CONDITIONS,
  ProtocolError,
  fromAmqpRequest,
  fromAmqpResponse,
  functionAddress,
  mayResend,
  parseFunctionAddress,
  toAmqpRequest,
  toAmqpResponse,
  withDataSection,
  type DeliveryOutcome,
  type HttpHeaders,
  type HttpRequest,
  type HttpResponse,
} from "./protocol.ts";

const bytes = (...values: number[]) => new Uint8Array(values);
const text = (s: string) => new TextEncoder().encode(s);
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const OPTS = { to: "fn/hello", replyTo: "amqp:/_topo/0/r1/temp.abc", messageId: "m-1" };
const ONE_DAY = 86_400_000;

/** Catch what `fn` throws, so a table can check its fields. */
function thrown(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error("expected a ProtocolError");
}

describe("addresses", () => {
  it.each([
    ["hello", "fn/hello"],
    ["json-echo", "fn/json-echo"],
    ["a", "fn/a"],
    ["0abc9", "fn/0abc9"],
    ["x".repeat(63), `fn/${"x".repeat(63)}`],
  ])("functionAddress(%j) is %j and parses back", (name, address) => {
    expect(functionAddress(name)).toBe(address);
    expect(parseFunctionAddress(address)).toBe(name);
  });

  it.each(["", "Hello", "-a", "a-", "a_b", "a.b", "a/b", "x".repeat(64), "héllo"])(
    "functionAddress(%j) throws ERR_ADDRESS_INVALID",
    (name) => {
      const err = thrown(() => functionAddress(name));
      expect(err.code).toBe("ERR_ADDRESS_INVALID");
      expect(err.condition).toBe("amqp:invalid-field");
      expect(err.message).toContain(JSON.stringify(name));
    },
  );

  it.each(["hello", "fn/", "fn/Hello", "fn/a/b", "fx/hello", "/fn/hello", `fn/${"x".repeat(64)}`, "amqp:/_topo/0/r1/temp"])(
    "parseFunctionAddress(%j) is null",
    (address) => {
      expect(parseFunctionAddress(address)).toBeNull();
    },
  );
});

describe("request mapping", () => {
  it("maps a call as Qpid Dispatch's HTTP adaptor does", () => {
    const req: HttpRequest = { method: "POST", path: "/items?x=1", headers: [["content-type", "text/plain"]], body: text("hi") };
    const msg = toAmqpRequest(req, { ...OPTS, deadline: 1_700_000_000_123, idempotencyKey: "k-1" });
    expect(msg).toEqual({
      to: "fn/hello",
      subject: "POST",
      reply_to: OPTS.replyTo,
      message_id: "m-1",
      absolute_expiry_time: new Date(1_700_000_000_123),
      application_properties: { ":path": "/items?x=1", "content-type": "text/plain", "idempotency-key": "k-1" },
      body: text("hi"),
    });
    expect(msg).not.toHaveProperty("correlation_id");
  });

  it("leaves absolute_expiry_time out without a deadline", () => {
    expect(toAmqpRequest({ method: "GET", path: "/", headers: [], body: null }, OPTS)).not.toHaveProperty("absolute_expiry_time");
  });

  it("replaces a request's own idempotency-key header with the option", () => {
    const msg = toAmqpRequest({ method: "POST", path: "/", headers: [["idempotency-key", "old"]], body: null }, { ...OPTS, idempotencyKey: "new" });
    expect(msg.application_properties["idempotency-key"]).toBe("new");
  });

  it.each<[string, HttpRequest, HttpHeaders?]>([
    ["GET with no headers and no body", { method: "GET", path: "/", headers: [], body: null }],
    ["HEAD", { method: "HEAD", path: "/health", headers: [], body: null }],
    ["OPTIONS *", { method: "OPTIONS", path: "*", headers: [], body: null }],
    ["a custom method", { method: "PROPFIND", path: "/dav", headers: [], body: null }],
    ["query string", { method: "GET", path: "/search?q=a+b&lang=en&empty=", headers: [], body: null }],
    ["percent-escapes kept encoded", { method: "GET", path: "/files/a%20b%2Fc?name=%E2%9C%93&x=%25", headers: [], body: null }],
    ["an empty body", { method: "POST", path: "/", headers: [["content-length", "0"]], body: new Uint8Array(0) }],
    ["a binary body of every byte", { method: "PUT", path: "/blob", headers: [["content-type", "application/octet-stream"]], body: ALL_BYTES }],
    ["unicode header values", { method: "GET", path: "/", headers: [["x-name", "Zoë ✓ 日本"], ["x-emoji", "🚀"]], body: null }],
    ["an empty header value", { method: "GET", path: "/", headers: [["x-empty", ""]], body: null }],
    [
      "repeated headers joined with a comma",
      { method: "GET", path: "/", headers: [["accept", "text/html"], ["x-a", "1"], ["accept", "application/json"]], body: null },
      [["accept", "text/html, application/json"], ["x-a", "1"]],
    ],
    [
      "repeated cookies kept apart",
      { method: "GET", path: "/", headers: [["cookie", "a=1"], ["cookie", "b=2"]], body: null },
      [["cookie", "a=1, b=2"]],
    ],
  ])("round-trips %s", (_, req, headers = req.headers) => {
    const call = fromAmqpRequest(toAmqpRequest(req, { ...OPTS, deadline: 1_700_000_000_000 }));
    expect(call).toEqual({ name: "hello", request: { ...req, headers }, replyTo: OPTS.replyTo, messageId: "m-1", deadline: 1_700_000_000_000 });
  });

  it("lower-cases header names and ignores Dispatch's pseudo-headers", () => {
    const call = fromAmqpRequest({
      to: "fn/hello",
      subject: "GET",
      reply_to: "r",
      message_id: "m",
      application_properties: { ":path": "/", ":version": "1.1", "Content-Type": "text/plain" },
    });
    expect(call.request).toEqual({ method: "GET", path: "/", headers: [["content-type", "text/plain"]], body: null });
    expect(call.deadline).toBeUndefined();
  });
});

describe("reply mapping", () => {
  it("maps a reply to the caller's reply_to, correlated by message_id", () => {
    const msg = toAmqpResponse({ status: 404, headers: [["content-type", "text/plain"]], body: text("no") }, { reply_to: "r-1", message_id: "m-1" });
    expect(msg).toEqual({
      to: "r-1",
      correlation_id: "m-1",
      subject: "404",
      application_properties: { "content-type": "text/plain" },
      body: text("no"),
    });
  });

  it.each<[string, HttpResponse, HttpHeaders?]>([
    ["200 with a body", { status: 200, headers: [["content-type", "application/json"]], body: text('{"ok":true}') }],
    ["204 with no body", { status: 204, headers: [], body: null }],
    ["an empty body", { status: 200, headers: [], body: new Uint8Array(0) }],
    ["a binary body", { status: 200, headers: [], body: ALL_BYTES }],
    ["a 5xx", { status: 503, headers: [["retry-after", "1"]], body: text("busy") }],
    ["unicode header values", { status: 200, headers: [["x-greeting", "héllo wörld ✓"]], body: null }],
    [
      "repeated set-cookie as separate cookies",
      { status: 200, headers: [["set-cookie", "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT"], ["set-cookie", "b=2; Path=/"]], body: null },
    ],
    [
      "other repeated headers joined with a comma",
      { status: 200, headers: [["vary", "accept"], ["vary", "origin"]], body: null },
      [["vary", "accept, origin"]],
    ],
  ])("round-trips %s", (_, res, headers = res.headers) => {
    const reply = fromAmqpResponse(toAmqpResponse(res, { reply_to: "r-1", message_id: "m-1" }));
    expect(reply).toEqual({ correlationId: "m-1", response: { ...res, headers } });
  });
});

describe("invalid messages", () => {
  const good = (): Record<string, unknown> => ({ ...toAmqpRequest({ method: "GET", path: "/", headers: [["x-a", "1"]], body: null }, OPTS) });
  const props = (extra: Record<string, unknown>) => ({ ...good(), application_properties: { ":path": "/", ...extra } });

  it.each<[string, unknown, string]>([
    ["not an object", null, ""],
    ["no to", { ...good(), to: undefined }, "to"],
    ["a to that is no function address", { ...good(), to: "queue/x" }, "to"],
    ["no subject", { ...good(), subject: undefined }, "subject"],
    ["a subject that is no method", { ...good(), subject: "GE T" }, "subject"],
    ["an empty reply_to", { ...good(), reply_to: "" }, "reply_to"],
    ["a numeric message_id", { ...good(), message_id: 7 }, "message_id"],
    ["a bad absolute_expiry_time", { ...good(), absolute_expiry_time: "tomorrow" }, "absolute_expiry_time"],
    ["no application_properties", { ...good(), application_properties: undefined }, "application_properties"],
    ["no :path", { ...good(), application_properties: { "x-a": "1" } }, 'application_properties[":path"]'],
    ["a :path with a space", props({ ":path": "/a b" }), 'application_properties[":path"]'],
    ["an absolute-form :path", props({ ":path": "http://x/" }), 'application_properties[":path"]'],
    ["a non-string header value", props({ "x-count": 3 }), 'application_properties["x-count"]'],
    ["a header value with CRLF", props({ "x-evil": "a\r\nset-cookie: x" }), 'application_properties["x-evil"]'],
    ["a bad header name", props({ "bad name": "v" }), 'application_properties["bad name"]'],
    ["an amqp-value body", { ...good(), body: "hello" }, "body"],
    ["an amqp-sequence body", { ...good(), body: { typecode: 0x76, content: [1, 2] } }, "body"],
  ])("rejects a request with %s", (_, message, field) => {
    const err = thrown(() => fromAmqpRequest(message));
    expect(err.code).toBe("ERR_DECODE");
    expect(err.toAmqpError()).toEqual({ condition: "amqp:decode-error", description: err.message });
    expect(err.issues?.[0]?.path).toBe(field);
    expect(err.message).toContain(field === "" ? "AMQP request message is invalid" : `invalid ${field}:`);
  });

  const reply = (): Record<string, unknown> => ({ ...toAmqpResponse({ status: 200, headers: [], body: null }, { reply_to: "r", message_id: "m" }) });

  it.each<[string, unknown, string]>([
    ["no correlation_id", { ...reply(), correlation_id: undefined }, "correlation_id"],
    ["no to", { ...reply(), to: undefined }, "to"],
    ["a subject that is no status", { ...reply(), subject: "OK" }, "subject"],
    ["a status out of range", { ...reply(), subject: "600" }, "subject"],
    ["a non-string header value", { ...reply(), application_properties: { "content-length": 5 } }, 'application_properties["content-length"]'],
    ["a binary amqp-value body", { ...reply(), body: { typecode: 0x77, content: bytes(1) } }, "body"],
  ])("rejects a reply with %s", (_, message, field) => {
    const err = thrown(() => fromAmqpResponse(message));
    expect(err.code).toBe("ERR_DECODE");
    expect(err.issues?.[0]?.path).toBe(field);
  });

  it("uses the same AMQP conditions as RouterError for the same codes", () => {
    for (const [code, condition] of Object.entries(PROTOCOL_ERROR_CONDITIONS)) {
      expect(ROUTER_ERROR_CONDITIONS[code as keyof typeof PROTOCOL_ERROR_CONDITIONS]).toBe(condition);
      expect(new RouterError(code as keyof typeof PROTOCOL_ERROR_CONDITIONS, "x").toAmqpError()).toEqual({ condition, description: "x" });
    }
  });
});

describe("mayResend", () => {
  const { ACCEPTED, RELEASED, MODIFIED, REJECTED } = DELIVERY_OUTCOMES;
  it.each<[DeliveryOutcome, string, HttpHeaders | Record<string, unknown>, boolean]>([
    [RELEASED, "POST", [], true],
    [RELEASED, "PATCH", {}, true],
    [RELEASED, "GET", [], true],
    [MODIFIED, "GET", [], true],
    [MODIFIED, "HEAD", [], true],
    [MODIFIED, "OPTIONS", [], true],
    [MODIFIED, "TRACE", [], true],
    [MODIFIED, "PUT", [], true],
    [MODIFIED, "DELETE", [], true],
    [MODIFIED, "POST", [], false],
    [MODIFIED, "PATCH", [], false],
    [MODIFIED, "get", [], false],
    [MODIFIED, "POST", [["idempotency-key", "k-1"]], true],
    [MODIFIED, "POST", [["Idempotency-Key", "k-1"]], true],
    [MODIFIED, "POST", { "idempotency-key": "k-1", ":path": "/" }, true],
    [MODIFIED, "POST", [["idempotency-key", " "]], false],
    [MODIFIED, "POST", { "idempotency-key": 1 }, false],
    [REJECTED, "GET", [], false],
    [REJECTED, "POST", [["idempotency-key", "k-1"]], false],
    [ACCEPTED, "GET", [], false],
  ])("%s %s %j -> %s", (outcome, method, headers, expected) => {
    expect(mayResend(outcome, method, headers)).toBe(expected);
  });
});

describe("on the wire with rhea", () => {
  const wire = (message: object) => rhea.message.decode(rhea.message.encode(message));

  it.each<[string, Uint8Array | null]>([
    ["a binary body", ALL_BYTES],
    ["an empty body", new Uint8Array(0)],
    ["no body", null],
  ])("a call with %s survives encode and decode", (_, body) => {
    const req: HttpRequest = {
      method: "POST",
      path: "/a%20b?q=%E2%9C%93&x=1",
      headers: [["content-type", "application/octet-stream"], ["x-name", "Zoë ✓"], ["cookie", "a=1"], ["cookie", "b=2"]],
      body,
    };
    const sent = withDataSection(toAmqpRequest(req, { ...OPTS, deadline: 1_700_000_000_123, idempotencyKey: "k-1" }), rhea.message.data_section);
    const call = fromAmqpRequest(wire(sent));
    expect(call).toEqual({
      name: "hello",
      request: { ...req, headers: [["content-type", "application/octet-stream"], ["x-name", "Zoë ✓"], ["cookie", "a=1, b=2"], ["idempotency-key", "k-1"]] },
      replyTo: OPTS.replyTo,
      messageId: "m-1",
      deadline: 1_700_000_000_123,
    });
  });

  it("a call in several data sections arrives as one body", () => {
    const msg = { ...toAmqpRequest({ method: "PUT", path: "/", headers: [], body: null }, OPTS), body: rhea.message.data_sections([Buffer.from("ab"), Buffer.from([0, 255])]) };
    expect(fromAmqpRequest(wire(msg)).request.body).toEqual(bytes(0x61, 0x62, 0, 255));
  });

  it("a reply with cookies and a binary body survives encode and decode", () => {
    const res: HttpResponse = { status: 201, headers: [["set-cookie", "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT"], ["set-cookie", "b=2"]], body: ALL_BYTES };
    const sent = withDataSection(toAmqpResponse(res, { reply_to: "r-1", message_id: "m-1" }), rhea.message.data_section);
    expect(fromAmqpResponse(wire(sent))).toEqual({ correlationId: "m-1", response: res });
  });

  it("a deadline a day ahead comes back to the millisecond", () => {
    const deadline = Date.UTC(2026, 10, 27) + ONE_DAY + 7;
    const sent = withDataSection(toAmqpRequest({ method: "GET", path: "/", headers: [], body: null }, { ...OPTS, deadline }), rhea.message.data_section);
    expect(fromAmqpRequest(wire(sent)).deadline).toBe(deadline);
  });
});
