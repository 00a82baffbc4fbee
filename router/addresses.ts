/**
 * Which local receiver links serve which address, and how healthy each link is. The router
 * sends to a consumer on the rhea Sender it holds for that consumer's receiver; this table
 * feeds select.ts with one LocalCandidate per such link. A link is withdrawn when it detaches
 * or its session or connection ends; its unsettled deliveries are handed back to the caller
 * of `withdraw`, which settles them upstream (they were handed over and are lost: MODIFIED).
 */
import type { Delivery, Sender } from "rhea";
import { pickConsumer, skipReason, DEFAULT_HUNG_AFTER_MS, type LinkHealth, type LocalCandidate, type Skipped, type SkipReason } from "./select.ts";

/** One consumer link: a receiver attached here, seen from our side (a rhea Sender). */
export interface ConsumerLink {
  /** `<conn>/<link name>`: unique on this router, stable for the link's life. */
  readonly id: string;
  readonly address: string;
  readonly conn: string;
  readonly sender: Sender;
  /** Deliveries sent on this link and not settled yet, with when they were sent; oldest first. */
  readonly unsettled: Map<Delivery, number>;
  lastSettledAt: number | null;
  /** Deliveries handed to rhea on this link; see `credit()`. */
  sends: number;
  /** rhea's delivery_count when `sends` was 0, moved forward when a drain spends credit. */
  deliveryBase: number;
  /** Logged as hung already: warn once per episode, not once per delivery. */
  hung: boolean;
}

/** A consumer's health with why select.ts would skip it now (null: it can take a delivery). */
export type ConsumerHealth = LinkHealth & { readonly id: string; readonly conn: string; readonly skip: SkipReason | null };

export interface PickResult {
  /** The link to send on, or null: RELEASE the delivery. */
  readonly consumer: ConsumerLink | null;
  /** How many links serve the address at all (0: nobody, else all were skipped). */
  readonly served: number;
  readonly skipped: readonly (Skipped & { readonly consumer: ConsumerLink })[];
}

// rhea keeps a sender's credit and delivery count on the link but leaves them out of its typings.
type SenderFlowState = { readonly credit: number; readonly delivery_count: number };

/**
 * Credit we can still use. rhea lowers `credit` only when it writes the transfer (on the next
 * tick), so deliveries we handed it in this tick are subtracted here, or a burst would overrun
 * a consumer that granted 1. `sendable()` is false also when the session's outgoing buffer is full.
 */
export function credit(link: ConsumerLink): number {
  const flow = link.sender as unknown as SenderFlowState;
  let transferred = flow.delivery_count - link.deliveryBase;
  if (transferred > link.sends) {
    // A drain advanced delivery_count past what we sent: count from here.
    link.deliveryBase = flow.delivery_count - link.sends;
    transferred = link.sends;
  }
  const queued = link.sends - transferred;
  return link.sender.sendable() ? Math.max(0, flow.credit - queued) : 0;
}

export function linkHealth(link: ConsumerLink): LinkHealth {
  const oldest = link.unsettled.values().next();
  return {
    credit: credit(link),
    outstanding: link.unsettled.size,
    lastSettledAt: link.lastSettledAt,
    oldestUnsettledAt: oldest.done ? null : oldest.value,
  };
}

export class AddressTable {
  readonly #byAddress = new Map<string, Map<string, ConsumerLink>>();
  readonly #bySender = new Map<Sender, ConsumerLink>();
  readonly #turns = new Map<string, number>();
  readonly #hungAfterMs: number;

  constructor(opts: { hungAfterMs?: number } = {}) {
    this.#hungAfterMs = opts.hungAfterMs ?? DEFAULT_HUNG_AFTER_MS;
  }

  /** Registers a receiver link for `address`; it is a candidate from now on. */
  add(address: string, conn: string, sender: Sender): ConsumerLink {
    const link: ConsumerLink = {
      id: `${conn}/${sender.name}`,
      address,
      conn,
      sender,
      unsettled: new Map(),
      lastSettledAt: null,
      sends: 0,
      deliveryBase: (sender as unknown as SenderFlowState).delivery_count,
      hung: false,
    };
    let links = this.#byAddress.get(address);
    if (links === undefined) this.#byAddress.set(address, (links = new Map()));
    links.set(link.id, link);
    this.#bySender.set(sender, link);
    return link;
  }

  find(sender: Sender): ConsumerLink | undefined {
    return this.#bySender.get(sender);
  }

  /** Removes the link; returns the deliveries it still had unsettled (oldest first). */
  withdraw(link: ConsumerLink): Delivery[] {
    if (this.#bySender.get(link.sender) !== link) return [];
    this.#bySender.delete(link.sender);
    const links = this.#byAddress.get(link.address);
    links?.delete(link.id);
    if (links?.size === 0) {
      this.#byAddress.delete(link.address);
      this.#turns.delete(link.address);
    }
    const lost = [...link.unsettled.keys()];
    link.unsettled.clear();
    return lost;
  }

  /** Every link matching `match` (to withdraw a session's or a connection's links). */
  linksWhere(match: (link: ConsumerLink) => boolean): ConsumerLink[] {
    return [...this.#bySender.values()].filter(match);
  }

  /** How many links serve `address`. */
  count(address: string): number {
    return this.#byAddress.get(address)?.size ?? 0;
  }

  has(address: string): boolean {
    return this.#byAddress.has(address);
  }

  /** The health of every link serving `address`, as select.ts sees it at `now`. */
  health(address: string, now: number): ConsumerHealth[] {
    return [...(this.#byAddress.get(address)?.values() ?? [])].map((link) => {
      const health = linkHealth(link);
      return { id: link.id, conn: link.conn, ...health, skip: skipReason(health, now, this.#hungAfterMs) };
    });
  }

  /** The nearest healthy link for `address` (select.ts), taking turns among equals. */
  /** The nearest able consumer of `address`; those in `exclude` (they released this call) are not candidates. */
  pick(address: string, now: number, exclude?: ReadonlySet<ConsumerLink>): PickResult {
    const links = this.#byAddress.get(address);
    if (links === undefined) return { consumer: null, served: 0, skipped: [] };
    const candidates: LocalCandidate[] = [...links.values()]
      .filter((link) => exclude === undefined || !exclude.has(link))
      .map((link) => ({ kind: "local", id: link.id, ...linkHealth(link) }));
    const turn = this.#turns.get(address) ?? 0;
    this.#turns.set(address, turn + 1);
    const { picked, skipped } = pickConsumer(candidates, { now, hungAfterMs: this.#hungAfterMs, turn });
    const byId = (id: string) => links.get(id)!; // candidates were built from `links`
    return {
      consumer: picked === null ? null : byId(picked.kind === "local" ? picked.id : picked.router),
      served: links.size,
      skipped: skipped.map((s) => ({ ...s, consumer: byId(s.candidate.kind === "local" ? s.candidate.id : s.candidate.router) })),
    };
  }

  recordSent(link: ConsumerLink, delivery: Delivery, now: number): void {
    link.sends++;
    link.unsettled.set(delivery, now);
  }

  /** Marks a delivery settled by the consumer; false when it was not outstanding on that link. */
  recordSettled(link: ConsumerLink, delivery: Delivery, now: number): boolean {
    if (!link.unsettled.delete(delivery)) return false;
    link.lastSettledAt = now;
    link.hung = false;
    return true;
  }
}
