/**
 * Router test helpers: spawn `router/main.ts` and wait for its ready line, and small rhea
 * clients (a consumer serving `fn/<name>`, a caller with a dynamic reply address) that speak
 * the wire contract of router/protocol.ts over real loopback sockets. Every wait is bounded.
 *
 * @example
 * ```ts
 * const router = await spawnRouter();
 * onTestFinished(() => router.stop());
 * const consumer = await attachConsumer(router.port, "fn/hello");
 * const caller = await connectCaller(router.port);
 * const { outcome, reply } = await caller.call("hello", { method: "GET", path: "/", headers: [], body: null });
 * ```
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import "../../router/rhea-dispositions.ts"; // before any rhea session: fixes how rhea batches dispositions
import rhea from "rhea";
import type { AmqpError, Connection, Delivery, EventContext, Message, Receiver, Sender, SenderOptions } from "rhea";
import {
  DELIVERY_OUTCOMES, fromAmqpRequest, fromAmqpResponse, functionAddress, toAmqpRequest, toAmqpResponse, withDataSection,
  type DeliveryOutcome, type HttpRequest, type IncomingReply,
} from "../../router/protocol.ts";
import { readReadyLine, ReadyLineSchema } from "./ready.ts";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NODE = `${REPO_ROOT}node_modules/.bin/node`;
export const ROUTER_MAIN = `${REPO_ROOT}router/main.ts`;
const WAIT_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// The process

export interface RouterProcess {
  port: number;
  pid: number;
  logs: string[];
  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit code (null if killed). */
  stop(graceMs?: number): Promise<number | null>;
}

export async function spawnRouter(opts: { id?: string; log?: string; env?: Record<string, string> } = {}): Promise<RouterProcess> {
  const child = spawn(NODE, [ROUTER_MAIN], {
    cwd: REPO_ROOT,
    env: { ...process.env, EDGEFN_ROUTER_LISTEN: "127.0.0.1:0", EDGEFN_ROUTER_ID: opts.id ?? "test-router", EDGEFN_LOG: opts.log ?? "info", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${NODE} ${ROUTER_MAIN}`);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async (graceMs = 5_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const logs: string[] = [];
  try {
    const ready = await readReadyLine(child, { schema: ReadyLineSchema, lines: logs, name: "router", timeoutMs: 20_000 });
    return { port: ready.port, pid, logs, stop };
  } catch (err) {
    await stop(1_000);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// rhea clients

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` every 20 ms until it is true; throws after `ms`. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: still false after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const gone = new WeakSet<Connection>();

async function connect(port: number, id: string): Promise<Connection> {
  const connection = rhea.create_container({ id }).connect({ host: "127.0.0.1", port, reconnect: false });
  // Expected when a test closes the router or drops the socket; rhea warns unless handled.
  connection.on("disconnected", () => gone.add(connection));
  await withTimeout(new Promise<void>((resolve, reject) => {
    connection.once("connection_open", () => resolve());
    connection.once("connection_error", (ctx: EventContext) => reject(ctx.connection.error));
  }), WAIT_MS, `${id}: connect to 127.0.0.1:${port}`);
  return connection;
}

/** Closes cleanly, or destroys the socket if the peer does not answer. */
async function closeConnection(connection: Connection): Promise<void> {
  if (gone.has(connection) || !connection.is_open()) return;
  const done = new Promise<void>((resolve) => {
    connection.once("connection_close", () => resolve());
    connection.once("disconnected", () => resolve());
  });
  connection.close();
  await withTimeout(done, 2_000, "close").catch(() => connection.socket?.destroy());
}

/** What a test consumer does with a call: answer it, or settle it some other way, or hold it. */
export type ConsumerAction = "answer" | "hold" | "release" | "modified" | "reject";

export interface TestConsumer {
  readonly label: string;
  readonly receiver: Receiver;
  /** Every request message it was given, in order. */
  readonly received: Message[];
  /** Deliveries it holds unsettled ("hold"). */
  readonly held: Delivery[];
  /** Detaches its receiver (closed); resolves when the router answered the detach. */
  detach(): Promise<void>;
  /** Closes its connection cleanly. */
  close(): Promise<void>;
  /** Drops its socket with no AMQP close, as a crashed process would. */
  crash(): void;
}

/**
 * A consumer of `address`. `credit`: its credit window (0: it grants none). It answers with
 * 200 and `x-consumer: <label>` unless `act` says otherwise for a call.
 */
export async function attachConsumer(
  port: number,
  address: string,
  opts: { label?: string; credit?: number; act?: (message: Message) => ConsumerAction } = {},
): Promise<TestConsumer> {
  const label = opts.label ?? "consumer";
  const connection = await connect(port, label);
  const replies: Sender = connection.open_sender({ target: {} as { address: string } }); // anonymous: `to` on each reply
  const credit = opts.credit ?? 10;
  const receiver = connection.open_receiver({ source: { address }, autoaccept: false, credit_window: credit });
  const received: Message[] = [];
  const held: Delivery[] = [];
  receiver.on("message", (ctx: EventContext) => {
    const message = ctx.message!;
    const delivery = ctx.delivery!;
    received.push(message);
    const action = opts.act?.(message) ?? "answer";
    if (action === "hold") held.push(delivery);
    else if (action === "release") delivery.release();
    else if (action === "modified") delivery.modified({ delivery_failed: true });
    else if (action === "reject") delivery.reject({ condition: "amqp:decode-error", description: "test consumer rejects this call" });
    else {
      let call;
      try {
        call = fromAmqpRequest(message);
      } catch (err) {
        delivery.reject((err as { toAmqpError(): AmqpError }).toAmqpError());
        return;
      }
      const body = new TextEncoder().encode(`${label}: ${call.request.method} ${call.request.path}`);
      const response = toAmqpResponse({ status: 200, headers: [["x-consumer", label]], body }, { reply_to: call.replyTo, message_id: call.messageId });
      replies.send(withDataSection(response, rhea.message.data_section) as Message); // rhea types `body` as required
      delivery.accept();
    }
  });
  await withTimeout(new Promise<void>((resolve, reject) => {
    // A refusal is an attach with no source, then a detach with the error.
    receiver.once("receiver_open", () => {
      if ((receiver.source as { address?: string } | undefined)?.address === address) resolve();
    });
    receiver.once("receiver_close", () => reject(new Error(`${label}: receiver on ${address} refused: ${JSON.stringify(receiver.error ?? null)}`)));
  }), WAIT_MS, `${label}: attach to ${address}`);
  return {
    label,
    receiver,
    received,
    held,
    detach: () =>
      withTimeout(new Promise<void>((resolve) => {
        receiver.once("receiver_close", () => resolve());
        receiver.close();
      }), WAIT_MS, `${label}: detach`),
    close: () => closeConnection(connection),
    crash: () => {
      gone.add(connection); // rhea sees no 'end' on a socket destroyed here, so it never says disconnected
      connection.socket?.destroy();
    },
  };
}

export interface CallResult {
  outcome: DeliveryOutcome;
  /** The reply, when the call was accepted. */
  reply?: IncomingReply;
  /** The error of a rejected delivery. */
  error?: AmqpError;
  messageId: string;
}

export interface TestCaller {
  /** The reply address the router assigned to its dynamic receiver. */
  readonly replyTo: string;
  /** Sends an HTTP-shaped call to `fn/<name>`; resolves with its outcome and, if accepted, the reply. */
  call(name: string, request?: Partial<HttpRequest>, opts?: { deadline?: number; omitTo?: boolean }): Promise<CallResult>;
  /** Sends a raw message; resolves with the outcome. */
  send(message: Message): Promise<{ outcome: DeliveryOutcome; error?: AmqpError }>;
  close(): Promise<void>;
}

/** A caller: a dynamic reply receiver and one sender, anonymous unless `target` is given. */
export async function connectCaller(port: number, opts: { target?: string; label?: string } = {}): Promise<TestCaller> {
  const label = opts.label ?? "caller";
  const connection = await connect(port, label);
  const replyReceiver = connection.open_receiver({ source: { dynamic: true } as unknown as { address: string } }); // rhea types `address` as required
  const senderOptions: SenderOptions & { treat_modified_as_released: boolean } = {
    target: (opts.target === undefined ? {} : { address: opts.target }) as { address: string },
    // Otherwise rhea reports MODIFIED as RELEASED (DESIGN.md, AMQP facts measured); not in its typings.
    treat_modified_as_released: false,
  };
  const sender = connection.open_sender(senderOptions);
  const replyTo = await withTimeout(new Promise<string>((resolve) => {
    replyReceiver.once("receiver_open", () => resolve((replyReceiver.source as { address: string }).address));
  }), WAIT_MS, `${label}: dynamic reply address`);
  await withTimeout(new Promise<void>((resolve) => {
    if (sender.is_remote_open()) resolve();
    else sender.once("sender_open", () => resolve());
  }), WAIT_MS, `${label}: sender attach`);

  const waiting = new Map<Delivery, (r: { outcome: DeliveryOutcome; error?: AmqpError }) => void>();
  const outcome = (name: DeliveryOutcome) => (ctx: EventContext) => {
    const delivery = ctx.delivery!;
    const error = (delivery.remote_state as { error?: AmqpError } | undefined)?.error;
    waiting.get(delivery)?.({ outcome: name, ...(error === undefined ? {} : { error }) });
    waiting.delete(delivery);
  };
  for (const name of Object.values(DELIVERY_OUTCOMES)) sender.on(name, outcome(name));

  const replies = new Map<string, (reply: IncomingReply) => void>();
  replyReceiver.on("message", (ctx: EventContext) => {
    const reply = fromAmqpResponse(ctx.message);
    replies.get(reply.correlationId)?.(reply);
    replies.delete(reply.correlationId);
  });

  let nextId = 1;
  const send: TestCaller["send"] = (message) =>
    withTimeout(new Promise((resolve) => waiting.set(sender.send(message), resolve)), WAIT_MS, `${label}: outcome`);

  return {
    replyTo,
    send,
    async call(name, request = {}, callOpts = {}) {
      const messageId = `${label}-${nextId++}`;
      const req: HttpRequest = { method: "GET", path: "/", headers: [], body: null, ...request };
      const amqp = toAmqpRequest(req, { to: functionAddress(name), replyTo, messageId, ...(callOpts.deadline === undefined ? {} : { deadline: callOpts.deadline }) });
      const { to, ...rest } = withDataSection(amqp, rhea.message.data_section);
      const replied = new Promise<IncomingReply>((resolve) => replies.set(messageId, resolve));
      const result = await send((callOpts.omitTo === true ? rest : { to, ...rest }) as Message);
      if (result.outcome !== "accepted") {
        replies.delete(messageId);
        return { ...result, messageId };
      }
      return { ...result, messageId, reply: await withTimeout(replied, WAIT_MS, `${label}: reply to ${messageId}`) };
    },
    close: () => closeConnection(connection),
  };
}

/** The body of a reply as text. */
export function text(reply: IncomingReply | undefined): string {
  return reply?.response.body === null || reply === undefined ? "" : new TextDecoder().decode(reply.response.body);
}

/** The consumer label that answered (its `x-consumer` header). */
export function answeredBy(result: CallResult): string | undefined {
  return result.reply?.response.headers.find(([name]) => name === "x-consumer")?.[1];
}
