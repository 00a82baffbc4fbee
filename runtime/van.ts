/**
 * The isolate host on the VAN (DESIGN.md "The VAN"): one AMQP 1.0 connection to the site's router
 * (EDGEFN_VAN), redialled with backoff.
 *
 * Serving: a receiver on `fn/<name>` for each function deployed here, autoaccept off, detached
 * when the function is removed. Its credit is the function's free slots (`limits.concurrency`
 * minus requests in flight, from the ingress too), topped up as requests finish: a saturated
 * function has no credit, so the router sends its calls to the next site able to take them. A
 * call that arrives with no slot free (credit cannot be taken back) is RELEASED. A priority the
 * site refuses while saturated (admission.ts) gets no new credit and its calls are RELEASED,
 * so they go to the next site able to take them. A call runs through
 * `invoke()` as the ingress runs it (same limits; a streaming body is read whole for now), the
 * reply goes to `reply_to` on an anonymous sender, then the delivery is accepted. A RuntimeError
 * becomes the JSON error response the ingress gives.
 *
 * Calling: `call()` sends to `fn/<name>` (MODIFIED kept apart from RELEASED), replies come on one
 * dynamic receiver per connection, matched by `message_id`. RELEASED is resent with backoff;
 * MODIFIED only when `mayResend` allows. Only RELEASED for NO_ROUTE_MS (or until the deadline,
 * if sooner): 502 ERR_NO_HEALTHY_SITE. Deadline passed after a hand-over: 504.
 *
 * The wire's `:path` is the request target with the `/<name>` prefix already removed (the address
 * names the function). Who calls rides in the `x-edgefn-caller` header (service bindings); the
 * ingress strips it from public requests. The router stamps the calling site and its trust on
 * each call (ORIGIN_ANNOTATION, from the link's certificate): a caller named by an untrusted
 * site is ignored, so such calls reach only public functions.
 */
import { randomUUID } from "node:crypto";
import "../router/rhea-dispositions.ts"; // before any rhea session: fixes how rhea batches dispositions
import rhea from "rhea";
import type { Connection, Delivery, EventContext, Message, Receiver, Sender, SenderOptions } from "rhea";
import {
  DELIVERY_OUTCOMES, fromAmqpRequest, fromAmqpResponse, functionAddress, mayResend, toAmqpRequest, toAmqpResponse, withDataSection,
  type DeliveryOutcome, type HttpRequest, type HttpResponse, type IncomingCall, type IncomingReply,
} from "../router/protocol.ts";
import { RuntimeError } from "./errors.ts";
import { accessDenied, type FunctionTable } from "./functions.ts";
import { cannotStartInTime, invoke, type InvokeDeps } from "./invoke.ts";
import type { RequestWire, ResponseWire } from "./isolate/wire.ts";

/** Header naming the calling function of a service binding call over the VAN. */
export const CALLER_HEADER = "x-edgefn-caller";
/** Deadline of an ingress call sent over the VAN (the callee's own timeoutMs is unknown here). */
export const VAN_DEADLINE_MS = 30_000;
/** Largest request body the ingress sends over the VAN; the callee checks its own requestBytes. */
export const VAN_MAX_REQUEST_BYTES = 8 * 1024 * 1024;
/** Nothing but RELEASED for this long: no site can take it (covers address propagation). */
const NO_ROUTE_MS = 3_000;
const RETRY_MIN_MS = 25;
const RETRY_MAX_MS = 400;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/** On close: how long calls being served may take to finish before the receivers detach. */
const DRAIN_MS = 2_000;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface VanDeps extends InvokeDeps {
  address: { host: string; port: number };
  functions: FunctionTable;
}

export interface Van {
  /** Attaches receivers for functions deployed here, detaches those removed. Call after changes. */
  sync(): void;
  /** A request of `name` finished here: its slot is offered as credit again. */
  freed(name: string): void;
  /** Admission changed: credit is offered again for every function admitted now. */
  refill(): void;
  /** Calls `fn/<name>` over the VAN; rejects with a RuntimeError (502 / 504). */
  call(name: string, request: RequestWire, requestId: string, deadline: number, opts?: CallOptions): Promise<ResponseWire>;
  /** Stops taking calls, lets those in flight finish (bounded), detaches, closes. */
  close(): Promise<void>;
}

export interface CallOptions {
  /** The calling function (service bindings). */
  caller?: string;
  /** Nothing but RELEASED this long: reject with `error` (default: 3 s, ERR_NO_HEALTHY_SITE). */
  noRoute?: { afterMs: number; error: RuntimeError };
}

type Attempt = { kind: "reply"; reply: IncomingReply } | { kind: "outcome"; outcome: DeliveryOutcome } | { kind: "timeout" };

interface Link {
  connection: Connection;
  open: boolean;
  replyTo: string | undefined;
  replies: Sender;
  senders: Map<string, Sender>;
  consumers: Map<string, { receiver: Receiver; concurrency: number }>;
  /** Calls out waiting for a reply, by message_id. */
  waiting: Map<string, (reply: IncomingReply) => void>;
  /** Calls out waiting for their delivery's outcome. */
  outcomes: Map<Delivery, (outcome: DeliveryOutcome) => void>;
  /** Everything to end when the connection goes. */
  lost: Set<() => void>;
}

export function startVan(deps: VanDeps): Van {
  const log = deps.logger.child({ scope: "runtime:van" });
  const container = rhea.create_container({ id: `edgefn-${deps.site}-${process.pid}` });
  let link: Link | undefined;
  let closing = false;
  let attempts = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let serving = 0;
  let idle: (() => void)[] = [];

  function dial(): void {
    const connection = container.connect({ host: deps.address.host, port: deps.address.port, reconnect: false });
    const current: Link = {
      connection, open: false, replyTo: undefined, replies: undefined as unknown as Sender,
      senders: new Map(), consumers: new Map(), waiting: new Map(), outcomes: new Map(), lost: new Set(),
    };
    link = current;
    connection.on("connection_open", () => {
      attempts = 0;
      current.open = true;
      current.replies = connection.open_sender({ target: {} as { address: string } }); // anonymous: `to` on each reply
      const replies = connection.open_receiver({ source: { dynamic: true } as unknown as { address: string } });
      replies.on("receiver_open", () => {
        current.replyTo = (replies.source as { address?: string } | undefined)?.address;
      });
      replies.on("message", (ctx: EventContext) => {
        let reply: IncomingReply;
        try {
          reply = fromAmqpResponse(ctx.message);
        } catch (error) {
          log.warn({ err: error }, "ignored a malformed reply");
          return;
        }
        current.waiting.get(reply.correlationId)?.(reply);
      });
      log.info({ router: `${deps.address.host}:${deps.address.port}` }, "joined the VAN");
      syncLink(current);
    });
    const down = () => {
      if (link !== current) return;
      link = undefined;
      if (current.open) log.warn("lost the connection to the VAN router");
      for (const end of [...current.lost]) end();
      if (closing) return;
      const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** attempts++);
      reconnectTimer = setTimeout(dial, delay);
      reconnectTimer.unref();
    };
    connection.on("disconnected", down);
    connection.on("connection_close", () => {
      down();
      connection.socket?.destroy();
    });
    connection.on("connection_error", () => undefined);
    for (const name of Object.values(DELIVERY_OUTCOMES)) {
      connection.on(name, (ctx: EventContext) => {
        const delivery = ctx.delivery;
        if (delivery === undefined) return;
        const done = current.outcomes.get(delivery);
        current.outcomes.delete(delivery);
        done?.(name);
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Serving

  function syncLink(current: Link): void {
    if (!current.open || closing) return;
    const wanted = new Map(deps.functions.list().map((fn) => [fn.name, fn.manifest.spec.limits.concurrency]));
    for (const [name, consumer] of current.consumers) {
      if (wanted.get(name) !== consumer.concurrency) {
        consumer.receiver.close();
        current.consumers.delete(name);
      }
    }
    for (const [name, concurrency] of wanted) {
      if (current.consumers.has(name)) continue;
      const receiver = current.connection.open_receiver({ source: { address: functionAddress(name) }, autoaccept: false, credit_window: 0 });
      receiver.on("message", (ctx: EventContext) => void serve(current, ctx.message!, ctx.delivery!));
      current.consumers.set(name, { receiver, concurrency });
      topUp(current, name);
    }
  }

  /** Credit for `name` up to its free slots (never taken back: an extra call is released). */
  function topUp(current: Link, name: string): void {
    const consumer = current.consumers.get(name);
    const fn = deps.functions.get(name);
    if (consumer === undefined || fn === undefined || closing) return;
    if (deps.admission?.admits(fn.manifest.spec.priority) === false) return; // refused here now: no credit
    const free = consumer.concurrency - fn.inflight;
    const credit = (consumer.receiver as Receiver & { credit: number }).credit; // rhea keeps it; its typings omit it
    if (free > credit) consumer.receiver.add_credit(free - credit);
  }

  async function serve(current: Link, message: Message, delivery: Delivery): Promise<void> {
    if (closing) {
      delivery.release(); // never ran: the router may give it to another site
      return;
    }
    let call: IncomingCall;
    try {
      call = fromAmqpRequest(message);
    } catch (error) {
      delivery.reject((error as { toAmqpError(): { condition: string; description: string } }).toAmqpError());
      return;
    }
    const fn = deps.functions.get(call.name);
    const refused = fn === undefined || fn.inflight >= fn.manifest.spec.limits.concurrency || deps.admission?.admits(fn.manifest.spec.priority) === false || cannotStartInTime(fn) !== undefined;
    if (refused || (call.deadline !== undefined && call.deadline <= Date.now())) {
      delivery.release(); // removed here meanwhile, no slot free, its priority refused now, or already worthless: never ran
      return;
    }
    serving++;
    try {
      const response = await run(call);
      if (link !== current) return; // the router has already given it back as MODIFIED
      current.replies.send(withDataSection(toAmqpResponse(response, { reply_to: call.replyTo, message_id: call.messageId }), rhea.message.data_section) as Message);
      delivery.accept();
    } catch (error) {
      log.error({ err: error }, "could not answer a call from the VAN");
    } finally {
      if (--serving === 0) for (const resolve of idle.splice(0)) resolve();
    }
  }

  async function run(call: IncomingCall): Promise<HttpResponse> {
    const { request } = call;
    const given = header(request.headers, "x-request-id");
    const requestId = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    const tag = (res: HttpResponse): HttpResponse => ({
      ...res,
      headers: [...res.headers.filter(([n]) => n !== "x-edgefn-site" && n !== "x-request-id"), ["x-request-id", requestId], ["x-edgefn-site", deps.site]],
    });
    try {
      const fn = deps.functions.get(call.name);
      if (fn === undefined) throw new RuntimeError("ERR_SERVICE_NOT_FOUND", `no function named "${call.name}" is deployed here`, { status: 404 });
      const { spec } = fn.manifest;
      // A caller named by an untrusted site is not believed: its calls count as public ones.
      const caller = call.origin?.trusted === false ? undefined : header(request.headers, CALLER_HEADER);
      const denied = accessDenied(fn, caller);
      if (denied !== undefined) throw denied;
      if (request.body !== null && request.body.byteLength > spec.limits.requestBytes) {
        throw new RuntimeError("ERR_BODY_TOO_LARGE", `request body for function "${call.name}" is larger than ${spec.limits.requestBytes} bytes`, {
          status: 413,
          hint: "send a smaller body, or raise spec.limits.requestBytes in edgefn.yaml",
        });
      }
      const host = header(request.headers, "host") ?? "localhost";
      const wire: RequestWire = {
        method: request.method,
        url: `http://${host}${request.path === "*" ? "/" : request.path}`,
        headers: request.headers.filter(([n]) => n !== CALLER_HEADER),
        body: request.body === null ? null : new Uint8Array(request.body),
      };
      const { head, body } = await invoke(deps, fn, wire, requestId);
      const bytes = body instanceof ReadableStream ? new Uint8Array(await new Response(body).arrayBuffer()) : body;
      const headers = head.headers.filter(([n]) => n !== "content-length" && n !== "transfer-encoding" && n !== "connection");
      return tag({ status: head.status, headers, body: bytes });
    } catch (error) {
      const failure = error instanceof RuntimeError
        ? error
        : new RuntimeError("ERR_INTERNAL", "edgefn failed to serve this request", { status: 500, cause: error, hint: "this is a bug in edgefn; the runtime log has the details" });
      if (!(error instanceof RuntimeError)) log.error({ requestId, err: error }, "unexpected error serving a call from the VAN");
      const response = failure.toResponse(requestId);
      const headers: [string, string][] = [];
      response.headers.forEach((value, key) => headers.push([key, value]));
      return tag({ status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Calling

  function senderFor(current: Link, name: string): Sender {
    let sender = current.senders.get(name);
    if (sender === undefined) {
      const options: SenderOptions & { treat_modified_as_released: boolean } = {
        target: { address: functionAddress(name) },
        // Otherwise rhea reports MODIFIED as RELEASED and at-most-once is broken (DESIGN.md).
        treat_modified_as_released: false,
      };
      sender = current.connection.open_sender(options);
      current.senders.set(name, sender);
    }
    return sender;
  }

  /** One send: its reply, or the outcome that ended it, or the deadline. */
  function attempt(name: string, request: HttpRequest, deadline: number): Promise<Attempt> {
    const current = link;
    return new Promise<Attempt>((resolve) => {
      if (current === undefined || !current.open || current.replyTo === undefined) {
        resolve({ kind: "outcome", outcome: DELIVERY_OUTCOMES.RELEASED }); // not on the VAN yet: nothing reached anyone
        return;
      }
      const messageId = randomUUID();
      let delivery: Delivery | undefined;
      let sent = false;
      const sender = senderFor(current, name);
      const finish = (result: Attempt) => {
        clearTimeout(timer);
        clearTimeout(creditTimer);
        sender.removeListener("sendable", send);
        current.waiting.delete(messageId);
        if (delivery !== undefined) current.outcomes.delete(delivery);
        current.lost.delete(onLost);
        resolve(result);
      };
      // Lost with the connection: it may have reached a consumer unless it was never sent.
      const onLost = () => finish({ kind: "outcome", outcome: sent ? DELIVERY_OUTCOMES.MODIFIED : DELIVERY_OUTCOMES.RELEASED });
      const timer = setTimeout(() => finish({ kind: "timeout" }), Math.max(0, deadline - Date.now()));
      // No credit from the router within a while: treat as nobody able to take it.
      const creditTimer = setTimeout(() => {
        if (!sent) finish({ kind: "outcome", outcome: DELIVERY_OUTCOMES.RELEASED });
      }, 1_000);
      current.lost.add(onLost);
      current.waiting.set(messageId, (reply) => finish({ kind: "reply", reply }));
      function send(): void {
        if (sent || !sender.sendable()) return;
        sent = true;
        sender.removeListener("sendable", send);
        const message = toAmqpRequest(request, { to: functionAddress(name), replyTo: current!.replyTo!, messageId, deadline });
        delivery = sender.send(withDataSection(message, rhea.message.data_section) as Message);
        current!.outcomes.set(delivery, (outcome) => {
          if (outcome !== DELIVERY_OUTCOMES.ACCEPTED) finish({ kind: "outcome", outcome });
        });
      }
      sender.on("sendable", send);
      send();
    });
  }

  async function call(name: string, wire: RequestWire, requestId: string, deadline: number, opts: CallOptions = {}): Promise<ResponseWire> {
    const url = new URL(wire.url);
    const headers = wire.headers.filter(([n]) => n !== CALLER_HEADER && n !== "x-request-id" && n !== "host");
    headers.push(["host", url.host], ["x-request-id", requestId]);
    if (opts.caller !== undefined) headers.push([CALLER_HEADER, opts.caller]);
    const request: HttpRequest = { method: wire.method, path: `${url.pathname}${url.search}`, headers, body: wire.body };
    let releasedSince = Date.now();
    let delay = RETRY_MIN_MS;
    for (;;) {
      const result = await attempt(name, request, deadline);
      if (result.kind === "reply") {
        const { status, headers: replyHeaders, body } = result.reply.response;
        return { status, statusText: "", headers: replyHeaders, body: body === null ? null : new Uint8Array(body), stream: null };
      }
      if (result.kind === "timeout") throw timedOut(name, deadline);
      const { outcome } = result;
      if (outcome === DELIVERY_OUTCOMES.REJECTED) {
        throw new RuntimeError("ERR_INTERNAL", `the site serving "${name}" refused the call as malformed`, {
          status: 502,
          hint: "the sites run different edgefn versions; the runtime logs have the details",
        });
      }
      if (outcome === DELIVERY_OUTCOMES.MODIFIED) {
        if (!mayResend(outcome, request.method, request.headers)) {
          throw new RuntimeError("ERR_ISOLATE_CRASHED", `the site running "${name}" was lost under this call, which may have run; not resent`, {
            status: 502,
            hint: `only idempotent methods or calls with an Idempotency-Key are resent after that; ${request.method} without one is not`,
          });
        }
        releasedSince = Date.now();
      }
      const now = Date.now();
      if (now >= deadline) throw timedOut(name, deadline);
      if (outcome === DELIVERY_OUTCOMES.RELEASED && now - releasedSince >= (opts.noRoute === undefined ? NO_ROUTE_MS : opts.noRoute.afterMs)) {
        throw opts.noRoute?.error ?? noRoute(name);
      }
      const wait = Math.min(delay, deadline - now, Math.max(0, releasedSince + NO_ROUTE_MS - now));
      await new Promise((resolve) => setTimeout(resolve, wait));
      delay = Math.min(RETRY_MAX_MS, delay * 2);
    }
  }

  dial();

  return {
    sync() {
      if (link !== undefined) syncLink(link);
    },
    freed(name) {
      if (link?.open === true) topUp(link, name);
    },
    refill() {
      if (link?.open === true) for (const name of link.consumers.keys()) topUp(link, name);
    },
    call,
    async close() {
      closing = true;
      clearTimeout(reconnectTimer);
      const current = link;
      if (current === undefined) return;
      // Drain: new calls are released to other sites, those running finish, then detach. A clean
      // detach tells our router that nothing unsettled ran (it gives those to the next site); with
      // calls still running after DRAIN_MS, detach with an error: they may have run (MODIFIED).
      if (serving > 0) {
        await bounded(new Promise<void>((resolve) => idle.push(resolve)), DRAIN_MS);
      }
      const error = serving > 0 ? { condition: "amqp:internal-error", description: `stopped with ${serving} calls still running` } : undefined;
      const detached = [...current.consumers.values()].map(({ receiver }) =>
        new Promise<void>((resolve) => {
          receiver.once("receiver_close", () => resolve());
          receiver.close(error);
        }),
      );
      await bounded(Promise.all(detached), 500);
      const closed = new Promise<void>((resolve) => {
        current.connection.once("connection_close", () => resolve());
        current.connection.once("disconnected", () => resolve());
      });
      current.connection.close();
      await bounded(closed, 500);
      current.connection.socket?.destroy();
    },
  };
}

function header(headers: [string, string][], name: string): string | undefined {
  return headers.find(([n]) => n === name)?.[1];
}

function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]).then(() => clearTimeout(timer));
}

function timedOut(name: string, deadline: number): RuntimeError {
  return new RuntimeError("ERR_FUNCTION_TIMEOUT", `no answer from "${name}" over the VAN by the deadline (${new Date(deadline).toISOString()})`, {
    status: 504,
    hint: "the site running it is slow or was lost; retry, or raise spec.limits.timeoutMs of the calling function",
  });
}

function noRoute(name: string): RuntimeError {
  return new RuntimeError("ERR_NO_HEALTHY_SITE", `no site can take a call to "${name}": it is deployed nowhere on the VAN, or every site running it is saturated or down`, {
    status: 502,
    headers: { "retry-after": "1" },
    hint: "check where it is deployed with `edgefn ls` on each site, or deploy it",
  });
}
