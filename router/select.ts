/**
 * "Nearest healthy" (DESIGN.md, The VAN): the lowest-cost consumer that is attached and has
 * credit; a hung or saturated one is skipped, not waited on. Pure: the caller passes the
 * link states and the clock, and RELEASEs the delivery when nothing is picked.
 */
import { compareIds } from "./topology.ts";

/** What the router knows of one outgoing link's health. Times are ms on the caller's clock. */
export type LinkHealth = {
  readonly credit: number; // credit the receiver granted us and we have not used
  readonly outstanding: number; // deliveries sent and not yet settled
  readonly lastSettledAt: number | null; // when the receiver last settled anything
  readonly oldestUnsettledAt: number | null; // when the oldest unsettled delivery was sent
};

/** A consumer attached to this router (cost 0). */
export type LocalCandidate = LinkHealth & { readonly kind: "local"; readonly id: string };

/** Another router with consumers for the address; the health is that of the link to `nextHop`. */
export type RemoteCandidate = LinkHealth & {
  readonly kind: "remote";
  readonly router: string;
  readonly cost: number;
  readonly nextHop: string;
};

export type Candidate = LocalCandidate | RemoteCandidate;

export type SkipReason =
  | "no-credit" // saturated: the receiver granted no credit we have not used
  | "hung"; // deliveries unsettled past hungAfterMs and nothing settled for as long

export type Skipped = { readonly candidate: Candidate; readonly reason: SkipReason };

export type PickOptions = {
  readonly now: number;
  /** Unsettled this long, with no settlement for as long, counts as hung. Default 1000. */
  readonly hungAfterMs?: number;
  /** Caller's round-robin counter (e.g. deliveries routed so far): spreads equal candidates. */
  readonly turn?: number;
};

export type Pick = {
  readonly picked: Candidate | null; // null: nobody can take it, RELEASE the delivery
  readonly skipped: readonly Skipped[]; // candidates passed over, nearest first, with why
};

export const DEFAULT_HUNG_AFTER_MS = 1000;

export function candidateCost(candidate: Candidate): number {
  return candidate.kind === "local" ? 0 : candidate.cost;
}

/** The local consumer id or the remote router id. */
export function candidateId(candidate: Candidate): string {
  return candidate.kind === "local" ? candidate.id : candidate.router;
}

/** Why a candidate cannot take a delivery now, or null when it can. */
export function skipReason(health: LinkHealth, now: number, hungAfterMs = DEFAULT_HUNG_AFTER_MS): SkipReason | null {
  // Hung first: a stuck receiver may still show credit, and "hung" is the more useful log line.
  const stuck = health.oldestUnsettledAt !== null && now - health.oldestUnsettledAt > hungAfterMs;
  // A receiver that still settles other deliveries is slow on one call, not hung.
  const silent = health.lastSettledAt === null || now - health.lastSettledAt > hungAfterMs;
  if (stuck && silent) return "hung";
  if (health.credit <= 0) return "no-credit";
  return null;
}

/**
 * Picks the cheapest candidate that has credit and is not hung; among equal cost, the fewest
 * outstanding deliveries, then round-robin by `turn` over the ids in order.
 */
export function pickConsumer(candidates: readonly Candidate[], options: PickOptions): Pick {
  const { now, hungAfterMs = DEFAULT_HUNG_AFTER_MS, turn = 0 } = options;
  const ordered = [...candidates].sort(
    (a, b) => candidateCost(a) - candidateCost(b) || compareIds(candidateId(a), candidateId(b)),
  );
  const skipped: Skipped[] = [];
  let i = 0;
  while (i < ordered.length) {
    const cost = candidateCost(ordered[i]!);
    const tier: Candidate[] = [];
    for (; i < ordered.length && candidateCost(ordered[i]!) === cost; i++) {
      const candidate = ordered[i]!;
      const reason = skipReason(candidate, now, hungAfterMs);
      if (reason === null) tier.push(candidate);
      else skipped.push({ candidate, reason });
    }
    if (tier.length === 0) continue;
    const fewest = Math.min(...tier.map((c) => c.outstanding));
    const least = tier.filter((c) => c.outstanding === fewest);
    const index = ((Math.trunc(turn) % least.length) + least.length) % least.length;
    return { picked: least[index]!, skipped };
  }
  return { picked: null, skipped };
}
