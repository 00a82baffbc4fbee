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
import type { PeerCertificate, TLSSocket } from "node:tls";
import type { Connection, Container, Message, Sender } from "rhea";
import type { RouterLink } from "./config.ts";
import { identityFromAltNames, type Trust } from "./identity.ts";
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

/** The network's CA, this router's certificate and key (PEM): links between routers use them. */
export interface TlsMaterial {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** One link as `status()` shows it: configured here (dialled), or dialled by the peer. */
export interface LinkState {
  peer: string | null;
  /** host:port we dial; null when the peer dialled us. */
  address: string | null;
  cost: number;
  state: "up" | "down";
  /** From the peer's certificate; null without TLS. */
  trust: Trust | null;
  error: string | null;
}

interface Peer {
  readonly id: string;
  readonly connection: Connection;
  /** From its certificate (null: a plain link, only when TLS is not configured). */
  readonly trust: Trust | null;
  /** Addresses an untrusted peer may serve. */
  readonly grants: readonly string[];
  readonly cost: number;
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
  /** When set, links between routers need mutual TLS with these (read at every dial). */
  tls(): TlsMaterial | undefined;
}

export type Peers = ReturnType<typeof createPeers>;

export function createPeers(opts: PeersOptions) {
  const { id, container, table, log } = opts;
  const topology = new Topology(id);
  const peers = new Map<string, Peer>();
  const byConnection = new Map<Connection, Peer>();
  /** Connections we dialled: the link each serves, and how many dials failed in a row before it. */
  const dialled = new Map<Connection, { link: RouterLink; attempt: number }>();
  /** Links to keep dialled, by linkKey; removing one stops its redials. */
  const configured = new Map<string, RouterLink>();
  /** Why each configured link last went down (or failed to come up). */
  const linkErrors = new Map<string, string>();
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
    if (configured.get(linkKey(link)) !== link) return; // removed meanwhile
    const material = opts.tls();
    const common = {
      host: link.host,
      port: link.port,
      reconnect: false as const, // we redial ourselves: a fresh connection, fresh links, no half-restored state
      properties: { [ROUTER_PROPERTY]: id, [LINK_COST_PROPERTY]: link.cost },
    };
    const connection = material === undefined
      ? container.connect(common)
      : container.connect({
        ...common,
        transport: "tls",
        ca: material.ca,
        cert: material.cert,
        key: material.key,
        // A DNS name, not the IP we dial: site certificates carry DNS:<site>.
        servername: link.peer ?? "edgefn-router",
        checkServerIdentity: (_host: string, cert: PeerCertificate) => checkPeerCertificate(cert, link.peer),
      });
    dialled.set(connection, { link, attempt });
  };

  const refuse = (connection: Connection, peer: unknown, why: string): void => {
    log.warn({ conn: opts.connId(connection), peer }, `router link refused: ${why}`);
    connection.close({ condition: "amqp:unauthorized-access", description: `router link refused: ${why}` });
  };

  /** A router connection is open: its two senders, the link in the topology, our database to it. */
  const opened = (connection: Connection): void => {
    const dialling = dialled.get(connection);
    const link = dialling?.link;
    const properties = (connection.properties ?? {}) as Record<string, unknown>;
    const tlsSocket = connection.get_tls_socket() as TLSSocket | undefined;
    if (link === undefined && typeof properties[ROUTER_PROPERTY] !== "string") {
      // A client. The TLS listener is for routers only: clients use the site's local port.
      if (tlsSocket !== undefined) refuse(connection, connection.container_id, "the VAN port takes links from routers only");
      return;
    }
    const peerId: unknown = connection.container_id;
    let trust: Trust | null = null;
    let grants: readonly string[] = [];
    if (opts.tls() !== undefined) {
      if (tlsSocket === undefined) {
        refuse(connection, peerId, "links between routers need mutual TLS: dial the site's VAN port");
        return;
      }
      const identity = identityFromAltNames(tlsSocket.getPeerCertificate().subjectaltname);
      if (identity === null || identity.site !== peerId) {
        refuse(connection, peerId, `its certificate names ${identity?.site ?? "no site"}, but it calls itself ${String(peerId)}`);
        return;
      }
      trust = identity.trust;
      grants = identity.grants;
    }
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
    const peer: Peer = { id: peerId, connection, trust, grants, cost, ads, traffic, link: undefined, pending: new Map() };
    if (link !== undefined) linkErrors.delete(linkKey(link));
    peers.get(peerId)?.connection.close(); // a second link to the same router replaces the first
    peers.set(peerId, peer);
    byConnection.set(connection, peer);
    log.info({ conn, peer: peerId, cost, trust, dialled: link !== undefined }, "router link up");
    changedLocally(topology.setLink(peerId, cost));
    // The newcomer learns the whole database, ours included (queued already if the flood sent it).
    peer.pending.set(id, topology.localAdvertisement());
    for (const router of known) {
      const ad = topology.advertisement(router);
      if (ad !== undefined) peer.pending.set(router, ad);
    }
    flush(peer);
  };

  const gone = (connection: Connection, error?: string): void => {
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
    const { link, attempt } = dialling;
    const why = error ?? errorText(connection.error);
    if (why !== undefined && why !== "") linkErrors.set(linkKey(link), why);
    else if (peer === undefined) linkErrors.set(linkKey(link), `could not connect to ${link.host}:${link.port}`);
    if (closed || configured.get(linkKey(link)) !== link) return;
    const delay = Math.min(REDIAL_MAX_MS, REDIAL_MIN_MS * 2 ** attempt);
    log.debug({ host: link.host, port: link.port, delay }, "router link: redialling");
    later(delay, () => dial(link, attempt + 1));
  };

  const removeLink = (key: string): boolean => {
    const link = configured.get(key);
    if (link === undefined) return false;
    configured.delete(key);
    linkErrors.delete(key);
    for (const [connection, dialling] of dialled) {
      if (dialling.link !== link) continue;
      if (byConnection.has(connection)) connection.close();
      else connection.socket?.destroy();
    }
    return true;
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
    /** Keeps `links` dialled (redialled with backoff whenever lost) until removed. */
    dial(links: readonly RouterLink[]): void {
      for (const link of links) {
        removeLink(linkKey(link)); // the same peer again: the new address or cost wins
        configured.set(linkKey(link), link);
        dial(link, 0);
      }
    },
    /** Stops dialling the link to `peer` (or host:port) and closes it. False: no such link. */
    removeLink: (key: string): boolean => removeLink(key),
    /** Closes every router link (new TLS material: they come back with it). */
    redialAll(): void {
      for (const connection of byConnection.keys()) connection.close();
    },
    opened,
    gone,
    /** The router at the other end of `connection` (null: a client), with its trust. */
    peerOf(connection: Connection): { id: string; trust: Trust | null } | null {
      const peer = byConnection.get(connection);
      return peer === undefined ? null : { id: peer.id, trust: peer.trust };
    },
    links(): LinkState[] {
      const states: LinkState[] = [];
      const up = new Map<string, Peer>([...peers.values()].map((p) => [p.id, p]));
      const dialledPeer = new Map<RouterLink, Peer>();
      for (const [connection, { link }] of dialled) {
        const peer = byConnection.get(connection);
        if (peer !== undefined) dialledPeer.set(link, peer);
      }
      for (const [key, link] of configured) {
        const peer = dialledPeer.get(link);
        if (peer !== undefined) up.delete(peer.id);
        states.push({
          peer: link.peer ?? peer?.id ?? null,
          address: `${link.host}:${link.port}`,
          cost: link.cost,
          state: peer === undefined ? "down" : "up",
          trust: peer?.trust ?? null,
          error: peer === undefined ? (linkErrors.get(key) ?? "connecting") : null,
        });
      }
      for (const peer of up.values()) states.push({ peer: peer.id, address: null, cost: peer.cost, state: "up", trust: peer.trust, error: null });
      return states.sort((a, b) => (a.peer ?? "").localeCompare(b.peer ?? ""));
    },

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
      let ad = parsed.data;
      if (from.trust === "untrusted") {
        // An untrusted site speaks only for itself, serves only what it was granted, and
        // carries no one else's calls: the advertisement flooded on says so.
        if (ad.router !== from.id) {
          log.debug({ peer: from.id, router: ad.router }, "advertisement dropped: an untrusted site speaks only for itself");
          return true;
        }
        const refused = ad.addresses.filter((a) => a.consumers > 0 && !from.grants.includes(a.address)).map((a) => a.address);
        if (refused.length > 0) log.warn({ peer: from.id, refused, grants: from.grants }, "untrusted site advertised addresses it was not granted: ignored");
        ad = { ...ad, transit: false, addresses: ad.addresses.filter((a) => from.grants.includes(a.address)) };
      }
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
    pickRemote(address: string, trace: readonly string[], now: number, turn: number, exclude?: ReadonlySet<ConsumerLink>): ConsumerLink | null {
      const links = new Map<string, ConsumerLink>();
      const candidates: RemoteCandidate[] = [];
      for (const at of topology.whereIs(address)) {
        if (at.nextHop === null || trace.includes(at.nextHop)) continue;
        const link = peers.get(at.nextHop)?.link;
        if (link === undefined || exclude?.has(link) === true) continue;
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

/** The key a configured link is kept under: the peer it expects, else its address. */
export function linkKey(link: RouterLink): string {
  return link.peer ?? `${link.host}:${link.port}`;
}

/** tls checkServerIdentity: the certificate must name the expected site (any site if none). */
function checkPeerCertificate(cert: PeerCertificate, expected: string | undefined): Error | undefined {
  const identity = identityFromAltNames(cert.subjectaltname);
  if (identity === null) return new Error("the peer's certificate names no edgefn site");
  if (expected !== undefined && identity.site !== expected) return new Error(`expected site ${expected}, but the certificate names ${identity.site}`);
  return undefined;
}

/** A socket error's or an AMQP error's text. */
export function errorText(error: unknown): string | undefined {
  if (error === undefined || error === null) return undefined;
  if (typeof error === "object" && "description" in error && typeof error.description === "string") return error.description;
  return error instanceof Error ? error.message : String(error);
}

function parseJson(body: unknown): unknown {
  try {
    return typeof body === "string" ? JSON.parse(body) : undefined;
  } catch {
    return undefined;
  }
}
