import { z } from "zod";

/**
 * Link-state database of one router: what every router advertised (its links to peers and
 * the addresses it has consumers for), and the shortest paths computed from it.
 * Pure: no I/O, no timers. The caller floods advertisements and expires routers.
 */

export const LinkSchema = z.object({
  peer: z.string().min(1),
  // Strictly positive: Dijkstra's tie-break on next hop relies on it (a zero-cost link
  // would let a router settle before an equal-cost predecessor is seen).
  cost: z.number().finite().positive(),
});
export type Link = z.output<typeof LinkSchema>;

export const AddressCountSchema = z.object({
  address: z.string().min(1),
  consumers: z.number().int().nonnegative(),
});
export type AddressCount = z.output<typeof AddressCountSchema>;

export const AdvertisementSchema = z
  .object({
    router: z.string().min(1),
    seq: z.number().int().nonnegative(),
    links: z.array(LinkSchema),
    addresses: z.array(AddressCountSchema),
    /**
     * False: calls never pass through this router, it is only an end (an untrusted site; the
     * trusted neighbour that heard it directly sets this, see peers.ts). Absent means true.
     */
    transit: z.boolean().optional(),
  })
  .superRefine((ad, ctx) => {
    const peers = new Set<string>();
    ad.links.forEach((link, i) => {
      if (link.peer === ad.router) {
        ctx.addIssue({ code: "custom", path: ["links", i, "peer"], message: "a router cannot link to itself" });
      } else if (peers.has(link.peer)) {
        ctx.addIssue({ code: "custom", path: ["links", i, "peer"], message: `duplicate link to "${link.peer}"` });
      }
      peers.add(link.peer);
    });
    const addresses = new Set<string>();
    ad.addresses.forEach((entry, i) => {
      if (addresses.has(entry.address)) {
        ctx.addIssue({ code: "custom", path: ["addresses", i, "address"], message: `duplicate address "${entry.address}"` });
      }
      addresses.add(entry.address);
    });
  });
export type Advertisement = z.output<typeof AdvertisementSchema>;
export type AdvertisementInput = z.input<typeof AdvertisementSchema>;

/** Validates an advertisement received from the network; throws a ZodError when malformed. */
export function parseAdvertisement(input: unknown): Advertisement {
  return AdvertisementSchema.parse(input);
}

/** Shortest path to one router. The local router has `{ cost: 0, nextHop: null }`. */
export type Path = { readonly cost: number; readonly nextHop: string | null };

/** One router that has consumers for an address, as seen from here. */
export type AddressLocation = {
  readonly router: string;
  readonly cost: number;
  readonly nextHop: string | null; // null: the local router
  readonly consumers: number;
};

export class Topology {
  readonly self: string;
  /** Bumped on every change of the database or of local state; compare it to know when to flood. */
  version = 0;
  #seq = 0;
  readonly #links = new Map<string, number>();
  readonly #consumers = new Map<string, number>();
  readonly #ads = new Map<string, Advertisement>(); // other routers only
  #paths: ReadonlyMap<string, Path> | undefined;

  constructor(self: string) {
    if (self.length === 0) throw new TypeError("router id must be a non-empty string");
    this.self = self;
  }

  /** Sets the cost of the local link to `peer`. Returns whether the local advertisement changed. */
  setLink(peer: string, cost: number): boolean {
    if (peer === this.self) throw new RangeError("a router cannot link to itself");
    if (!Number.isFinite(cost) || cost <= 0) throw new RangeError(`link cost must be a positive finite number, got ${cost}`);
    if (this.#links.get(peer) === cost) return false;
    this.#links.set(peer, cost);
    return this.#changedLocally();
  }

  /** Withdraws the local link to `peer`. Returns whether the local advertisement changed. */
  removeLink(peer: string): boolean {
    if (!this.#links.delete(peer)) return false;
    return this.#changedLocally();
  }

  /** Sets how many local consumers are attached on `address` (0 withdraws it). Returns whether it changed. */
  setLocalConsumers(address: string, consumers: number): boolean {
    if (!Number.isInteger(consumers) || consumers < 0) throw new RangeError(`consumer count must be a non-negative integer, got ${consumers}`);
    if ((this.#consumers.get(address) ?? 0) === consumers) return false;
    if (consumers === 0) this.#consumers.delete(address);
    else this.#consumers.set(address, consumers);
    return this.#changedLocally();
  }

  /** This router's advertisement, to flood to every neighbour after a local change. */
  localAdvertisement(): Advertisement {
    return {
      router: this.self,
      seq: this.#seq,
      links: [...this.#links].map(([peer, cost]) => ({ peer, cost })).sort((a, b) => compareIds(a.peer, b.peer)),
      addresses: [...this.#consumers]
        .map(([address, consumers]) => ({ address, consumers }))
        .sort((a, b) => compareIds(a.address, b.address)),
    };
  }

  /**
   * Stores another router's advertisement if it is newer (higher seq) than the one held.
   * Returns true when the database changed: the caller floods `ad` on to its other neighbours.
   *
   * For an advertisement of this router itself (the network remembers us from before a
   * restart), nothing is stored; if its seq is not below ours, our seq jumps past it and
   * this returns true: the caller then floods `localAdvertisement()`, which supersedes it.
   */
  applyAdvertisement(ad: Advertisement): boolean {
    if (ad.router === this.self) {
      if (ad.seq < this.#seq) return false;
      this.#seq = ad.seq + 1;
      this.version++;
      return true;
    }
    const held = this.#ads.get(ad.router);
    if (held !== undefined && ad.seq <= held.seq) return false;
    this.#ads.set(ad.router, ad);
    this.#invalidate();
    return true;
  }

  /**
   * Forgets a router (its advertisement expired). A later advertisement from it is accepted
   * whatever its seq, which is how a restarted router rejoins. Returns whether it was known.
   */
  removeRouter(router: string): boolean {
    if (!this.#ads.delete(router)) return false;
    this.#invalidate();
    return true;
  }

  /** The advertisement held for a router (the local one for `self`). */
  advertisement(router: string): Advertisement | undefined {
    return router === this.self ? this.localAdvertisement() : this.#ads.get(router);
  }

  /**
   * Shortest path to every reachable router, the local one included (cost 0, nextHop null).
   * A link counts only when both ends advertise it; its cost is the higher of the two
   * advertised costs, so neither end can make a link look cheaper than its peer says.
   * Equal-cost paths resolve to the lower next-hop id. Cached until the next change.
   */
  paths(): ReadonlyMap<string, Path> {
    this.#paths ??= shortestPaths(this.self, this.#graph(), this.#ends());
    return this.#paths;
  }

  /** Reachable routers with consumers for `address`, nearest first (ties: router id). */
  whereIs(address: string): AddressLocation[] {
    const paths = this.paths();
    const found: AddressLocation[] = [];
    const local = this.#consumers.get(address);
    if (local !== undefined) found.push({ router: this.self, cost: 0, nextHop: null, consumers: local });
    for (const ad of this.#ads.values()) {
      const path = paths.get(ad.router);
      if (path === undefined) continue;
      const consumers = ad.addresses.find((entry) => entry.address === address)?.consumers ?? 0;
      if (consumers > 0) found.push({ router: ad.router, cost: path.cost, nextHop: path.nextHop, consumers });
    }
    return found.sort((a, b) => a.cost - b.cost || compareIds(a.router, b.router));
  }

  #changedLocally(): true {
    this.#seq++;
    this.#invalidate();
    return true;
  }

  #invalidate(): void {
    this.version++;
    this.#paths = undefined;
  }

  /** The routers whose advertisement says they carry no transit traffic (ends only). */
  #ends(): Set<string> {
    return new Set([...this.#ads.values()].filter((ad) => ad.transit === false).map((ad) => ad.router));
  }

  /** Adjacency of links advertised by both ends, cost = max of the two. */
  #graph(): Map<string, Map<string, number>> {
    const declared = new Map<string, ReadonlyMap<string, number>>([[this.self, this.#links]]);
    for (const ad of this.#ads.values()) declared.set(ad.router, new Map(ad.links.map((l) => [l.peer, l.cost])));
    const graph = new Map<string, Map<string, number>>();
    for (const [router, links] of declared) {
      const edges = new Map<string, number>();
      for (const [peer, cost] of links) {
        const back = declared.get(peer)?.get(router);
        if (back !== undefined) edges.set(peer, Math.max(cost, back));
      }
      graph.set(router, edges);
    }
    return graph;
  }
}

/**
 * Dijkstra over a small graph; O(n²) is fine for the tens of routers a VAN has. Paths end at
 * routers in `ends` but never continue through them (the source itself always may).
 */
function shortestPaths(source: string, graph: ReadonlyMap<string, ReadonlyMap<string, number>>, ends: ReadonlySet<string> = new Set()): Map<string, Path> {
  const best = new Map<string, Path>([[source, { cost: 0, nextHop: null }]]);
  const done = new Set<string>();
  for (;;) {
    let next: [string, Path] | undefined;
    for (const entry of best) {
      if (done.has(entry[0])) continue;
      if (next === undefined || entry[1].cost < next[1].cost || (entry[1].cost === next[1].cost && compareIds(entry[0], next[0]) < 0)) {
        next = entry;
      }
    }
    if (next === undefined) return best;
    const [current, { cost: reached, nextHop }] = next;
    done.add(current);
    if (current !== source && ends.has(current)) continue;
    for (const [peer, cost] of graph.get(current) ?? []) {
      if (done.has(peer)) continue;
      // Leaving the source, the next hop is the neighbour itself; later it is inherited.
      const candidate: Path = { cost: reached + cost, nextHop: nextHop ?? peer };
      const held = best.get(peer);
      if (held === undefined || candidate.cost < held.cost || (candidate.cost === held.cost && compareIds(candidate.nextHop ?? "", held.nextHop ?? "") < 0)) {
        best.set(peer, candidate);
      }
    }
  }
}

/** Locale-independent ordering, so every router breaks ties the same way. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
