/**
 * The rhea side of the router: one container listening for callers and consumers, and the
 * forwarding of every delivery between them.
 *
 * - A receiver attached on `fn/<name>` makes its consumer a candidate for that address
 *   (addresses.ts); a receiver with a dynamic source gets a fresh reply address of its own.
 * - A delivery coming in goes to the address of its link's target or, on an anonymous link, to
 *   its `to`. select.ts picks a local consumer, else (peers.ts) the next hop toward the nearest
 *   router with one; a reply goes toward the router its address names. Nowhere: RELEASED at once.
 * - The consumer's outcome goes back to the caller's delivery: accepted, released, rejected
 *   (with its error) or modified (delivery_failed). A consumer lost with the delivery
 *   unsettled (detach, session end, connection gone): MODIFIED, delivery_failed, as DESIGN.md
 *   asks: it was handed over and may have run.
 */
import type { Server, Socket } from "node:net";
import type { Server as TlsServer } from "node:tls";
import "./rhea-dispositions.ts"; // before any rhea session: fixes how rhea batches dispositions
import rhea from "rhea";
import type { AmqpError, Connection, Delivery, EventContext, Message, Receiver } from "rhea";
import { AddressTable, type ConsumerLink, type PickResult } from "./addresses.ts";
import type { RouterLink } from "./config.ts";
import { RouterError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { ADS_ADDRESS, createPeers, errorText, MAX_HOPS, PEER_ADDRESS_PREFIX, TRACE_ANNOTATION, type Peers, type TlsMaterial } from "./peers.ts";
import type { Trust } from "./identity.ts";
import { ORIGIN_ANNOTATION, ORIGIN_TRUST_ANNOTATION } from "./protocol.ts";
import { parseFunctionAddress } from "./protocol.ts";

/** Reply addresses are ours to hand out, under this prefix; nobody may attach to one by name. */
export const REPLY_ADDRESS_PREFIX = "_reply/";

export interface ForwarderOptions {
  id: string;
  logger: Logger;
  /** Unsettled this long with nothing settled: the consumer is hung and skipped. Default 1000. */
  hungAfterMs?: number;
  /** A router unreachable this long after a link went down is forgotten. Default 30 s. */
  forgetAfterMs?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** This router's own trust, stamped on calls its local clients make. Default trusted. */
  trust?: () => Trust;
}

export interface Forwarder {
  readonly table: AddressTable;
  readonly peers: Peers;
  /** Deliveries sent on so far, by where they went: "local" (a consumer here) or a neighbour's id. */
  readonly forwarded: ReadonlyMap<string, number>;
  /** Dials the routers in `links`, and redials each whenever its connection is lost. */
  connect(links: readonly RouterLink[]): void;
  /** Listens on host:port (port 0: a free one); resolves with the port. */
  listen(host: string, port: number): Promise<number>;
  /**
   * Listens for links from other routers over mutual TLS (certificates of the network CA only),
   * and from then on dials them with it and refuses router links on the plain port.
   */
  listenTls(host: string, port: number, material: TlsMaterial): Promise<number>;
  /** New CA/certificate/key (the site joined a network): new handshakes use them, links redial. */
  setTls(material: TlsMaterial): void;
  /** Closes every connection and the listener; sockets that do not close in time are destroyed. */
  close(graceMs?: number): Promise<void>;
}

/** A delivery from a caller, handed to a consumer and not settled yet. */
interface Forward {
  readonly original: Delivery;
  readonly link: ConsumerLink;
  /** What to send again if the consumer releases it (a call, not a reply). */
  readonly retry: Job | undefined;
}

/** A delivery on its way: the message as it came, where it goes, and who released it already. */
interface Job {
  readonly message: Message;
  /** Its annotations as they go on (the origin stamped on calls). */
  readonly annotations: Message["message_annotations"];
  readonly address: string;
  readonly trace: readonly string[];
  /** Consumers that released it (it never ran there); made on the first release. */
  tried?: Set<ConsumerLink>;
}

export function createForwarder(opts: ForwarderOptions): Forwarder {
  const { id, logger } = opts;
  const now = opts.now ?? Date.now;
  const log = {
    link: logger.child({ scope: "router:link" }),
    select: logger.child({ scope: "router:select" }),
    health: logger.child({ scope: "router:health" }),
    forward: logger.child({ scope: "router:forward" }),
  };
  const table = new AddressTable({ hungAfterMs: opts.hungAfterMs });
  const forwards = new Map<Delivery, Forward>();
  const connIds = new WeakMap<Connection, string>();
  const connections = new Set<Connection>();
  let nextConn = 1;
  let nextReply = 1;
  let turns = 0;
  const forwarded = new Map<string, number>();

  const container = rhea.create_container({
    id,
    // We settle callers' deliveries ourselves, once the consumer has.
    autoaccept: false,
    // MODIFIED must reach the caller as MODIFIED (DESIGN.md, AMQP facts measured).
    treat_modified_as_released: false,
    // rhea leaves Nagle on for accepted sockets: each small frame then waits ~40 ms for an ACK.
    tcp_no_delay: true,
  });

  const connId = (connection: Connection): string => {
    let cid = connIds.get(connection);
    if (cid === undefined) connIds.set(connection, (cid = `c${nextConn++}`));
    return cid;
  };
  let tls: TlsMaterial | undefined;
  const peers = createPeers({
    id, container, table, log: log.link, connId, hungAfterMs: opts.hungAfterMs, forgetAfterMs: opts.forgetAfterMs ?? 30_000, tls: () => tls,
  });

  /**
   * Who a call comes from, for the consumer's access rules: set here for local clients and for
   * calls from untrusted sites (whatever they claimed); kept as a trusted router set it.
   */
  const withOrigin = (message: Message, connection: Connection): Message["message_annotations"] => {
    const from = peers.peerOf(connection);
    const annotations = (message.message_annotations ?? {}) as Record<string, unknown>;
    if (from !== null && from.trust !== "untrusted" && typeof annotations[ORIGIN_ANNOTATION] === "string") return message.message_annotations;
    const origin = from === null ? { site: id, trust: opts.trust?.() ?? "trusted" } : { site: from.id, trust: from.trust ?? "trusted" };
    return { ...annotations, [ORIGIN_ANNOTATION]: origin.site, [ORIGIN_TRUST_ANNOTATION]: origin.trust };
  };

  /** Tells the network how many consumers serve an fn/ address here now. */
  const advertise = (address: string): void => {
    if (parseFunctionAddress(address) !== null) peers.localConsumers(address, table.count(address));
  };

  /**
   * Where a delivery to `address` goes: a local consumer able to take it, else the next hop of
   * the nearest router able to (calls), or the next hop toward the router that owns a reply address.
   */
  const route = (address: string, trace: readonly string[], at: number, exclude?: ReadonlySet<ConsumerLink>): PickResult => {
    const none: PickResult = { consumer: null, served: 0, skipped: [] };
    const far = trace.length >= MAX_HOPS || trace.includes(id); // a loop, or too long a way: give up
    if (address.startsWith(REPLY_ADDRESS_PREFIX)) {
      const router = address.slice(REPLY_ADDRESS_PREFIX.length).split("/")[0] ?? "";
      if (router === id) return table.pick(address, at);
      const link = far ? undefined : peers.linkToward(router);
      return link === undefined ? none : { consumer: link, served: 1, skipped: [] };
    }
    if (parseFunctionAddress(address) === null) return none;
    const local = table.pick(address, at, exclude);
    if (local.consumer !== null || far) return local;
    const link = peers.pickRemote(address, trace, at, turns++, exclude);
    return link === null ? local : { ...local, consumer: link, served: local.served + 1 };
  };

  /** Tells the caller; nothing to do if it sent pre-settled or is gone. */
  const settleUpstream = (original: Delivery, settle: (d: Delivery) => void): void => {
    if (original.remote_settled || !original.link.is_open()) return;
    settle(original);
  };

  const lost = (d: Delivery) => d.modified({ delivery_failed: true });

  /**
   * A consumer is gone. `cleanly`: it detached without an error, which by this router's contract
   * means it settled every delivery it ran, so what it left unsettled never ran: those go to the
   * next able consumer (or back RELEASED). Otherwise they may have run: MODIFIED.
   */
  const withdraw = (link: ConsumerLink, why: string, cleanly = false): void => {
    const unsettled = table.withdraw(link);
    advertise(link.address);
    for (const outgoing of unsettled) {
      const forward = forwards.get(outgoing);
      if (forward === undefined) continue;
      forwards.delete(outgoing);
      if (!cleanly) settleUpstream(forward.original, lost);
      else retryElsewhere(forward);
    }
    log.link.info({ conn: link.conn, link: link.id, address: link.address, lost: unsettled.length, served: table.has(link.address) }, `consumer withdrawn: ${why}`);
  };

  const withdrawConnection = (connection: Connection, why: string): void => {
    connections.delete(connection);
    const cid = connId(connection);
    for (const link of table.linksWhere((l) => l.conn === cid)) withdraw(link, why);
  };

  container.on("connection_open", (ctx: EventContext) => {
    connections.add(ctx.connection);
    peers.opened(ctx.connection);
    log.link.debug({ conn: connId(ctx.connection), container: ctx.connection.container_id }, "connection open");
  });

  // A consumer (or a caller's reply receiver) attached: we send to it.
  container.on("sender_open", (ctx: EventContext) => {
    const sender = ctx.sender!;
    if (peers.owns(sender)) {
      peers.attached(sender); // a sender of ours toward a neighbour router: not a consumer
      return;
    }
    const conn = connId(ctx.connection);
    const source = sender.source as { address?: string; dynamic?: boolean } | undefined;
    let address: string;
    if (source?.dynamic === true) {
      address = `${REPLY_ADDRESS_PREFIX}${id}/${conn}.${(nextReply++).toString(36)}.${rhea.generate_uuid().slice(0, 8)}`;
      sender.set_source({ address, dynamic: true });
    } else if (typeof source?.address === "string" && parseFunctionAddress(source.address) !== null) {
      address = source.address;
      sender.set_source({ address });
    } else {
      const err = new RouterError("ERR_ADDRESS_INVALID", `Cannot serve address ${JSON.stringify(source?.address ?? null)}: consumers attach to fn/<name> or ask for a dynamic reply address.`);
      log.link.warn({ conn, address: source?.address ?? null }, "receiver refused: not an fn/<name> address");
      sender.close(err.toAmqpError());
      return;
    }
    const link = table.add(address, conn, sender);
    advertise(address);
    log.link.info({ conn, link: link.id, address, dynamic: source?.dynamic === true }, "consumer attached");
  });

  // A caller attached a sender: we receive on it.
  container.on("receiver_open", (ctx: EventContext) => {
    const receiver = ctx.receiver!;
    const target = receiverTarget(receiver);
    // Echo the target (anonymous senders keep theirs, address-less), so the caller sees its link accepted.
    if (target !== undefined) receiver.set_target({ address: target });
    else if (receiver.target) receiver.set_target(receiver.target);
    log.link.debug({ conn: connId(ctx.connection), target: target ?? null }, "sender attached");
  });

  container.on("message", (ctx: EventContext) => {
    const receiver = ctx.receiver!;
    const delivery = ctx.delivery!;
    const message = ctx.message!;
    const conn = connId(ctx.connection);
    if (receiverTarget(receiver) === ADS_ADDRESS) {
      if (peers.received(ctx.connection, message)) delivery.accept();
      else delivery.reject(new RouterError("ERR_UNAUTHORIZED", "Only a linked router may send advertisements.").toAmqpError());
      return;
    }
    const address = receiverTarget(receiver) ?? (typeof message.to === "string" && message.to !== "" ? message.to : undefined);
    if (address === undefined) {
      const err = new RouterError("ERR_DECODE", "Message has no `to` and its link has no target address, so it has nowhere to go.", {
        hint: "Set `to` on each message of an anonymous sender, or attach the sender with a target address.",
      });
      log.forward.warn({ conn, code: err.code }, err.message);
      delivery.reject(err.toAmqpError());
      return;
    }
    const at = now();
    const expiry = expiresAt(message);
    if (expiry !== undefined && expiry <= at) {
      const err = new RouterError("ERR_DEADLINE_EXCEEDED", `Message to ${address} expired ${at - expiry} ms before it could be delivered.`);
      log.forward.info({ conn, address, code: err.code }, err.message);
      settleUpstream(delivery, (d) => d.reject(err.toAmqpError()));
      return;
    }

    const reply = address.startsWith(REPLY_ADDRESS_PREFIX);
    const annotations = reply ? message.message_annotations : withOrigin(message, ctx.connection);
    dispatch(delivery, { message, annotations, address, trace: traceOf(message) }, !reply, at, conn);
  });

  /**
   * Sends a delivery on to the nearest able consumer not tried yet (a call released by one goes
   * to the next: a site with no free slot releases, and the next site able to take it gets it).
   * Nobody left: RELEASED upstream, never handed to anyone.
   */
  const dispatch = (delivery: Delivery, job: Job, retriable: boolean, at: number, conn: string): void => {
    const { address, trace, tried } = job;
    const { consumer, served, skipped } = route(address, trace, at, tried);
    for (const skip of skipped) {
      if (skip.reason !== "hung" || skip.consumer.hung) continue;
      skip.consumer.hung = true;
      log.health.warn({ conn: skip.consumer.conn, link: skip.consumer.id, address, outstanding: skip.candidate.outstanding }, "consumer hung: skipped until it settles again");
    }
    if (consumer === null) {
      // Never handed to anyone: safe to resend (DESIGN.md "Failures").
      log.select.debug({ conn, address, served, tried: tried?.size ?? 0, skipped: skipped.map((s) => ({ link: s.consumer.id, reason: s.reason })) }, served === 0 ? "no consumer for address: released" : "no consumer able to take it: released");
      settleUpstream(delivery, (d) => d.release());
      return;
    }
    const { message } = job;
    const peer = consumer.address.startsWith(PEER_ADDRESS_PREFIX) ? consumer.address.slice(PEER_ADDRESS_PREFIX.length) : null;
    // A consumer needs `to` to know which function is called when the caller's link had a target.
    const needsTo = message.to === undefined || message.to === null;
    // One copy at most: `to`, the origin annotations, and the trace when it goes to another router.
    const outgoing = consumer.sender.send(
      peer === null && !needsTo && job.annotations === message.message_annotations
        ? message
        : {
          ...message,
          ...(needsTo ? { to: address } : {}),
          message_annotations: peer === null ? job.annotations : { ...job.annotations, [TRACE_ANNOTATION]: [...trace, id] },
        },
    );
    table.recordSent(consumer, outgoing, at);
    forwards.set(outgoing, { original: delivery, link: consumer, retry: retriable ? job : undefined });
    forwarded.set(peer ?? "local", (forwarded.get(peer ?? "local") ?? 0) + 1);
    log.forward.debug({ conn, address, link: consumer.id, via: peer, messageId: message.message_id }, "forwarded");
  };

  /** The delivery never ran where it went: the next consumer able to take it gets it, else RELEASED. */
  const retryElsewhere = (forward: Forward): void => {
    const { retry, original } = forward;
    if (retry === undefined || original.remote_settled || !original.link.is_open()) {
      settleUpstream(original, (d) => d.release());
      return;
    }
    (retry.tried ??= new Set()).add(forward.link);
    dispatch(original, retry, true, now(), connId(original.link.connection));
  };

  const onOutcome = (settle: (original: Delivery, outgoing: Delivery) => void) => (ctx: EventContext) => {
    const outgoing = ctx.delivery!;
    const forward = forwards.get(outgoing);
    if (forward === undefined) return; // withdrawn already, or not ours
    forwards.delete(outgoing);
    table.recordSettled(forward.link, outgoing, now());
    settleUpstream(forward.original, (original) => settle(original, outgoing));
  };
  container.on("accepted", onOutcome((original) => original.accept()));
  container.on("released", (ctx: EventContext) => {
    const outgoing = ctx.delivery!;
    const forward = forwards.get(outgoing);
    if (forward === undefined) return;
    forwards.delete(outgoing);
    table.recordSettled(forward.link, outgoing, now());
    retryElsewhere(forward);
  });
  container.on("modified", onOutcome((original) => lost(original)));
  container.on("rejected", onOutcome((original, outgoing) => original.reject(rejectError(outgoing))));
  // Settled with no outcome: we cannot tell whether it ran, so as if lost.
  container.on("settled", (ctx: EventContext) => {
    if (ctx.sender !== undefined) onOutcome((original) => lost(original))(ctx);
  });

  container.on("sender_close", (ctx: EventContext) => {
    const link = table.find(ctx.sender!);
    const cleanly = ctx.sender!.error === undefined;
    if (link !== undefined) withdraw(link, cleanly ? "receiver detached" : "receiver detached with an error", cleanly);
  });
  container.on("receiver_close", (ctx: EventContext) => {
    log.link.debug({ conn: connId(ctx.connection), target: receiverTarget(ctx.receiver!) ?? null }, "sender detached");
  });
  container.on("session_close", (ctx: EventContext) => {
    const session = ctx.session;
    for (const link of table.linksWhere((l) => l.sender.session === session)) withdraw(link, "session ended");
  });
  container.on("sendable", (ctx: EventContext) => {
    if (ctx.sender !== undefined && peers.owns(ctx.sender)) peers.sendable(ctx.sender);
  });
  container.on("connection_close", (ctx: EventContext) => {
    withdrawConnection(ctx.connection, "connection closed");
    peers.gone(ctx.connection, errorText(ctx.connection.error));
  });
  container.on("disconnected", (ctx: EventContext) => {
    withdrawConnection(ctx.connection, "connection lost");
    peers.gone(ctx.connection, errorText(ctx.error));
    log.link.debug({ conn: connId(ctx.connection) }, "disconnected");
  });
  // rhea emits link and connection errors here when no narrower handler took them.
  container.on("error", (err: unknown) => {
    log.link.warn({ err: err instanceof Error ? { name: err.name, message: err.message } : String(err) }, "AMQP error from a peer");
  });

  let server: Server | undefined;
  let tlsServer: TlsServer | undefined;
  const sockets = new Set<Socket>();

  const track = (s: Server) => s.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  const listening = (s: Server, port: number) => new Promise<number>((resolve, reject) => {
    s.once("error", reject);
    s.once("listening", () => {
      s.off("error", reject);
      s.on("error", (err) => log.link.error({ err: { message: err.message } }, "listener error"));
      const address = s.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });

  return {
    table,
    peers,
    forwarded,
    connect: (links) => peers.dial(links),
    listen(host, port) {
      const s = container.listen({ host, port });
      server = s;
      track(s);
      return listening(s, port);
    },
    listenTls(host, port, material) {
      tls = material;
      const s = container.listen({
        host, port, transport: "tls", ca: material.ca, cert: material.cert, key: material.key, requestCert: true, rejectUnauthorized: true,
      }) as TlsServer;
      tlsServer = s;
      track(s);
      s.on("tlsClientError", (err: Error, socket: Socket) => {
        log.link.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, err: { message: err.message } }, "VAN connection refused in the TLS handshake (plaintext, or a certificate not signed by this network's CA)");
      });
      return listening(s, port);
    },
    setTls(material) {
      tls = material;
      tlsServer?.setSecureContext({ ca: material.ca, cert: material.cert, key: material.key });
      peers.redialAll();
    },
    async close(graceMs = 1_000) {
      const s = server;
      if (s === undefined) return;
      server = undefined;
      peers.close();
      const t = tlsServer;
      tlsServer = undefined;
      const closed = Promise.all([
        new Promise<void>((resolve) => s.close(() => resolve())),
        t === undefined ? undefined : new Promise<void>((resolve) => t.close(() => resolve())),
      ]);
      for (const connection of connections) {
        try {
          connection.close();
        } catch {
          // its socket is gone already; the timer below destroys what is left
        }
      }
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

function receiverTarget(receiver: Receiver): string | undefined {
  const target = receiver.target as { address?: unknown } | undefined;
  return typeof target?.address === "string" && target.address !== "" ? target.address : undefined;
}

/** The routers a delivery went through (TRACE_ANNOTATION); empty from a client. */
function traceOf(message: Message): string[] {
  const trace: unknown = (message.message_annotations as Record<string, unknown> | undefined)?.[TRACE_ANNOTATION];
  return Array.isArray(trace) ? trace.filter((x): x is string => typeof x === "string") : [];
}

function expiresAt(message: Message): number | undefined {
  const t: unknown = message.absolute_expiry_time;
  if (t instanceof Date) return t.getTime();
  return typeof t === "number" && t > 0 ? t : undefined;
}

/** The consumer's error, passed on as it gave it. */
function rejectError(outgoing: Delivery): AmqpError | undefined {
  const state = outgoing.remote_state as { error?: AmqpError } | undefined;
  return state?.error;
}

