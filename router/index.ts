/**
 * The router's public API: start one AMQP 1.0 router of the VAN (DESIGN.md, "The VAN").
 * Local consumers on a plain port, and links to other routers (link-state routing): over
 * mutual TLS with the network's certificates when `options.tls` is given, else plain TCP.
 */
import type { RouterConfig, RouterLink } from "./config.ts";
import type { ConsumerHealth } from "./addresses.ts";
import type { AddressLocation } from "./topology.ts";
import { createForwarder } from "./forward.ts";
import { silentLogger, type Logger } from "./log.ts";
import type { LinkState, TlsMaterial } from "./peers.ts";
import type { Trust } from "./identity.ts";

export type { RouterConfig, RouterConfigInput } from "./config.ts";
export { parseRouterConfig, RouterConfigSchema } from "./config.ts";
export type { ConsumerHealth } from "./addresses.ts";
export type { AddressLocation } from "./topology.ts";
export type { RouterLink } from "./config.ts";
export { MAX_HOPS, TRACE_ANNOTATION, type LinkState, type TlsMaterial } from "./peers.ts";

export interface RouterOptions {
  /** Unsettled this long, with nothing settled for as long, counts as hung. Default 1000 ms. */
  hungAfterMs?: number;
  /** A router unreachable this long after a link went down is forgotten. Default 30 000 ms. */
  forgetAfterMs?: number;
  /**
   * Links to other routers over mutual TLS: a second listener at `listen` (routers only) and
   * every dial with `material`; router links on the plain port are then refused.
   */
  tls?: { listen: { host: string; port: number }; material: TlsMaterial };
  /** This router's trust (its site's), stamped on its local clients' calls. Default trusted. */
  trust?: Trust;
}

/** One router of the network as seen from here. */
export interface RouterView {
  id: string;
  cost: number;
  nextHop: string | null;
  /** False: an untrusted end that carries no transit calls. */
  transit: boolean;
  /** fn/ addresses it has consumers for. */
  addresses: string[];
}

export interface Router {
  /** The port it listens on (the one picked when EDGEFN_ROUTER_LISTEN asked for port 0). */
  readonly port: number;
  readonly id: string;
  /** The consumers attached for `address` and how healthy each is now: for probes and tests. */
  consumers(address: string): ConsumerHealth[];
  /** The routers linked to this one now (connection open both ways), by id. */
  neighbours(): string[];
  /** Reachable routers with consumers for `address`, nearest first, this one included (cost 0). */
  whereIs(address: string): AddressLocation[];
  /** Deliveries sent on so far, by where: `local` (a consumer here) or a neighbour router's id. */
  forwarded(): Record<string, number>;
  /** The mutual-TLS port for router links (undefined without `options.tls`). */
  readonly tlsPort: number | undefined;
  /** Dials `link` (again with backoff whenever lost) until removed; replaces a link to the same peer. */
  addLink(link: RouterLink): void;
  /** Stops the link to `peer` (its router id, or host:port for unnamed ones). False: none such. */
  removeLink(peer: string): boolean;
  /** New CA/certificate/key: new handshakes use them and router links redial with them. */
  setTls(material: TlsMaterial): void;
  /** Links configured here and links dialled by peers, with their state. */
  links(): LinkState[];
  /** Every reachable router, this one first, with what it serves. */
  routers(): RouterView[];
  /** Closes every connection and the listener. */
  close(): Promise<void>;
}

/**
 * Starts a router listening on `config.EDGEFN_ROUTER_LISTEN` and dialling the routers of
 * `config.EDGEFN_ROUTER_LINKS` (redialled with backoff when lost). Consumers attach a receiver on
 * `fn/<name>`; callers send to that address and attach a receiver with a dynamic source for
 * replies. A call goes to a local consumer able to take it, else toward the nearest router that
 * has one. A call nobody can take comes back RELEASED; one lost after handover, MODIFIED.
 *
 * @example
 * ```ts
 * import { parseRouterConfig, startRouter } from "./router/index.ts";
 * import { createLogger } from "./router/log.ts";
 *
 * const config = parseRouterConfig({ EDGEFN_ROUTER_LISTEN: "127.0.0.1:0", EDGEFN_ROUTER_ID: "r1" });
 * const router = await startRouter(config, createLogger(config.EDGEFN_LOG));
 * // rhea.connect({ host: "127.0.0.1", port: router.port }) ... open_receiver("fn/hello")
 * await router.close();
 * ```
 */
export async function startRouter(config: RouterConfig, logger: Logger = silentLogger(), options: RouterOptions = {}): Promise<Router> {
  const id = config.EDGEFN_ROUTER_ID;
  const forwarder = createForwarder({
    id, logger: logger.child({ router: id }), hungAfterMs: options.hungAfterMs, forgetAfterMs: options.forgetAfterMs, trust: () => options.trust ?? "trusted",
  });
  const { host, port: wanted } = config.EDGEFN_ROUTER_LISTEN;
  const port = await forwarder.listen(host, wanted);
  let tlsPort: number | undefined;
  if (options.tls !== undefined) {
    try {
      tlsPort = await forwarder.listenTls(options.tls.listen.host, options.tls.listen.port, options.tls.material);
    } catch (error) {
      await forwarder.close();
      throw error;
    }
  }
  forwarder.connect(config.EDGEFN_ROUTER_LINKS);
  const topology = forwarder.peers.topology;
  let closing: Promise<void> | undefined;
  return {
    port,
    id,
    consumers: (address) => forwarder.table.health(address, Date.now()),
    neighbours: () => forwarder.peers.neighbours(),
    whereIs: (address) => forwarder.peers.topology.whereIs(address),
    forwarded: () => Object.fromEntries(forwarder.forwarded),
    tlsPort,
    addLink: (link) => forwarder.connect([link]),
    removeLink: (peer) => forwarder.peers.removeLink(peer),
    setTls: (material) => forwarder.setTls(material),
    links: () => forwarder.peers.links(),
    routers: () =>
      [...topology.paths()]
        .map(([router, path]) => {
          const ad = topology.advertisement(router);
          return {
            id: router,
            cost: path.cost,
            nextHop: path.nextHop,
            transit: ad?.transit !== false,
            addresses: (ad?.addresses ?? []).filter((a) => a.consumers > 0).map((a) => a.address),
          };
        })
        .sort((a, b) => a.cost - b.cost || a.id.localeCompare(b.id)),
    close: () => (closing ??= forwarder.close()),
  };
}
