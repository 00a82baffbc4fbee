/**
 * Links between routers: dialling the configured peers (and redialling with backoff), telling
 * a router's connection from a client's, flooding link-state advertisements (topology.ts) and
 * choosing the next hop toward another router.
 *
 * On each router connection both ends open two senders to the other: `_edgefn/ads` carries
 * advertisements, an anonymous one carries calls and replies. The traffic sender is kept in
 * the address table under `_edgefn/peer/<id>`, so its credit, unsettled deliveries and loss
 * are tracked exactly as a consumer's are (addresses.ts); select.ts sees it as the health of
 * the link to that next hop.
 */
import type { Connection, Container, Message, Sender } from "rhea";
import type { RouterLink } from "./config.ts";
import { linkHealth, type AddressTable, type ConsumerLink } from "./addresses.ts";
import type { Logger } from "./log.ts";
import { pickConsumer, type RemoteCandidate } from "./select.ts";
import { AdvertisementSchema, Topology, type Advertisement } from "./topology.ts";

/** Open property the dialling router sets: its id. Clients do not set it. */
export const ROUTER_PROPERTY = "edgefn-router";
/** Open property the dialling router sets: the cost of the link, from its configuration. */
export const LINK_COST_PROPERTY = "edgefn-link-cost";
export const ADS_ADDRESS = "_edgefn/ads";
export const PEER_ADDRESS_PREFIX = "_edgefn/peer/";
/** Message annotation: the routers a delivery went through, in order. */
export const TRACE_ANNOTATION = "x-opt-edgefn-trace";
/** A delivery that went through this many routers is RELEASED rather than forwarded again. */
export const MAX_HOPS = 16;

const REDIAL_MIN_MS = 100;
const REDIAL_MAX_MS = 2_000;

interface Peer {
  readonly id: string;
  readonly connection: Connection;
  readonly ads: Sender;
  readonly traffic: Sender;
  /** The traffic sender's table entry, once the peer answered its attach. */
  link: ConsumerLink | undefined;
  /** Advertisements waiting for credit, the newest per router. */
  readonly pending: Map<string, Advertisement>;
}

export interface PeersOptions {
  id: string;
  container: Container;
  table: AddressTable;
  log: Logger;
  connId(connection: Connection): string;
  hungAfterMs: number | undefined;
  /** A router unreachable this long after a link to it went down is forgotten. */
  forgetAfterMs: number;
}

export type Peers = ReturnType<typeof createPeers>;

export function createPeers(opts: PeersOptions) {
  const { id, container, table, log } = opts;
  const topology = new Topology(id);
  const peers = new Map<string, Peer>();
  const byConnection = new Map<Connection, Peer>();
  /** Connections we dialled: the link each serves, and how many dials failed in a row before it. */
  const dialled = new Map<Connection, { link: RouterLink; attempt: number }>();
  const ours = new WeakSet<Sender>();
  const known = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const later = (ms: number, run: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) run();
    }, ms);
    timer.unref();
    timers.add(timer);
  };

  const flush = (peer: Peer): void => {
    for (const [router, ad] of peer.pending) {
      if (!peer.ads.sendable()) return;
      peer.pending.delete(router);
      // As JSON text: rhea's map encoding mangles empty arrays (they arrive as lists of nulls).
      peer.ads.send({ body: JSON.stringify(ad) });
    }
  };

  const flood = (ad: Advertisement, except?: Peer): void => {
    for (const peer of peers.values()) {
      if (peer === except) continue;
      peer.pending.set(ad.router, ad);
      flush(peer);
    }
  };

  const changedLocally = (changed: boolean): void => {
    if (changed) flood(topology.localAdvertisement());
  };

  const dial = (link: RouterLink, attempt: number): void => {
    const connection = container.connect({
      host: link.host,
      port: link.port,
      reconnect: false, // we redial ourselves: a fresh connection, fresh links, no half-restored state
      properties: { [ROUTER_PROPERTY]: id, [LINK_COST_PROPERTY]: link.cost },
    });
    dialled.set(connection, { link, attempt });
  };

  /** A router connection is open: its two senders, the link in the topology, our database to it. */
  const opened = (connection: Connection): void => {
    const dialling = dialled.get(connection);
    const link = dialling?.link;
    const properties = (connection.properties ?? {}) as Record<string, unknown>;
    if (link === undefined && typeof properties[ROUTER_PROPERTY] !== "string") return; // a client
    const peerId: unknown = connection.container_id;
    const cost = link?.cost ?? Number(properties[LINK_COST_PROPERTY] ?? 1);
    const conn = opts.connId(connection);
    if (typeof peerId !== "string" || peerId === "" || peerId === id || !(cost > 0) || !Number.isFinite(cost)) {
      log.warn({ conn, peer: peerId, cost }, "router link refused: it links to itself or has no valid cost");
      connection.close({ condition: "amqp:invalid-field", description: `router link from ${peerId} refused: self-link or invalid cost` });
      return;
    }
    if (dialling !== undefined) dialling.attempt = 0;
    const ads = connection.open_sender({ target: { address: ADS_ADDRESS } });
    const traffic = connection.open_sender({ target: {} as { address: string } }); // anonymous: `to` on each delivery
    ours.add(ads);
    ours.add(traffic);
    const peer: Peer = { id: peerId, connection, ads, traffic, link: undefined, pending: new Map() };
    peers.get(peerId)?.connection.close(); // a second link to the same router replaces the first
    peers.set(peerId, peer);
    byConnection.set(connection, peer);
    log.info({ conn, peer: peerId, cost, dialled: link !== undefined }, "router link up");
    changedLocally(topology.setLink(peerId, cost));
    // The newcomer learns the whole database, ours included (queued already if the flood sent it).
    peer.pending.set(id, topology.localAdvertisement());
    for (const router of known) {
      const ad = topology.advertisement(router);
      if (ad !== undefined) peer.pending.set(router, ad);
    }
    flush(peer);
  };

  const gone = (connection: Connection): void => {
    const peer = byConnection.get(connection);
    if (peer !== undefined) {
      byConnection.delete(connection);
      if (peers.get(peer.id) === peer) {
        peers.delete(peer.id);
        log.info({ conn: opts.connId(connection), peer: peer.id }, "router link down");
        changedLocally(topology.removeLink(peer.id));
        later(opts.forgetAfterMs, forgetUnreachable);
      }
    }
    const dialling = dialled.get(connection);
    if (dialling === undefined) return;
    dialled.delete(connection);
    if (closed) return;
    const { link, attempt } = dialling;
    const delay = Math.min(REDIAL_MAX_MS, REDIAL_MIN_MS * 2 ** attempt);
    log.debug({ host: link.host, port: link.port, delay }, "router link: redialling");
    later(delay, () => dial(link, attempt + 1));
  };

  const forgetUnreachable = (): void => {
    const paths = topology.paths();
    for (const router of known) {
      if (paths.has(router)) continue;
      known.delete(router);
      topology.removeRouter(router);
      log.info({ router }, "router forgotten: unreachable");
    }
  };

  return {
    topology,
    /** A sender we opened toward a peer (its attach is answered like any other). */
    owns: (sender: Sender): boolean => ours.has(sender),
    isRouter: (connection: Connection): boolean => byConnection.has(connection),
    dial: (links: readonly RouterLink[]) => links.forEach((link) => dial(link, 0)),
    opened,
    gone,

    /** The peer answered the attach of one of our senders: the traffic one becomes routable. */
    attached(sender: Sender): void {
      const peer = byConnection.get(sender.connection);
      if (peer === undefined || sender !== peer.traffic) return;
      peer.link = table.add(`${PEER_ADDRESS_PREFIX}${peer.id}`, opts.connId(peer.connection), sender);
    },

    /** Our ads sender to a peer has credit again. */
    sendable(sender: Sender): void {
      const peer = byConnection.get(sender.connection);
      if (peer !== undefined && sender === peer.ads) flush(peer);
    },

    /** An advertisement from a peer: store it if newer and flood it on. False: not from a router. */
    received(connection: Connection, message: Message): boolean {
      const from = byConnection.get(connection);
      const parsed = AdvertisementSchema.safeParse(parseJson(message.body));
      if (from === undefined || !parsed.success) {
        log.warn({ conn: opts.connId(connection), peer: from?.id ?? null, issues: parsed.error?.issues }, "advertisement dropped: not from a router, or malformed");
        return from !== undefined;
      }
      const ad = parsed.data;
      if (!topology.applyAdvertisement(ad)) return true;
      if (ad.router === id) {
        flood(topology.localAdvertisement()); // the network remembered an older us: supersede it
        return true;
      }
      known.add(ad.router);
      log.debug({ peer: from.id, router: ad.router, seq: ad.seq }, "advertisement applied");
      flood(ad, from);
      return true;
    },

    /** How many local consumers serve `address` now (an fn/ address). */
    localConsumers: (address: string, consumers: number) => changedLocally(topology.setLocalConsumers(address, consumers)),

    /** The traffic link toward `router` (its next hop), or undefined when it is unreachable. */
    linkToward(router: string): ConsumerLink | undefined {
      const nextHop = topology.paths().get(router)?.nextHop;
      return nextHop === null || nextHop === undefined ? undefined : peers.get(nextHop)?.link;
    },

    /**
     * The next hop of the nearest remote router with consumers for `address` whose link can
     * take a delivery now; routers the delivery went through are never a next hop (no loops).
     */
    pickRemote(address: string, trace: readonly string[], now: number, turn: number): ConsumerLink | null {
      const links = new Map<string, ConsumerLink>();
      const candidates: RemoteCandidate[] = [];
      for (const at of topology.whereIs(address)) {
        if (at.nextHop === null || trace.includes(at.nextHop)) continue;
        const link = peers.get(at.nextHop)?.link;
        if (link === undefined) continue;
        links.set(at.nextHop, link);
        candidates.push({ kind: "remote", router: at.router, cost: at.cost, nextHop: at.nextHop, ...linkHealth(link) });
      }
      const { picked } = pickConsumer(candidates, { now, hungAfterMs: opts.hungAfterMs, turn });
      return picked?.kind === "remote" ? links.get(picked.nextHop)! : null; // built from `links` above
    },

    neighbours: (): string[] => [...peers.keys()].sort(),

    close(): void {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const connection of dialled.keys()) {
        if (!byConnection.has(connection)) connection.socket?.destroy(); // still dialling
      }
    },
  };
}

function parseJson(body: unknown): unknown {
  try {
    return typeof body === "string" ? JSON.parse(body) : undefined;
  } catch {
    return undefined;
  }
}
