/**
 * Works around a bug in rhea 3.0.x (lib/session.js, write_dispositions): when it batches the
 * dispositions of consecutive deliveries into ranges, it compares outcomes only once a range
 * holds two or more, so "accept #7, release #8" written in one batch goes out as "accept 7-8".
 * Seen under load: a call the runtime RELEASED (no slot) reached the router as ACCEPTED, and its
 * caller waited for a reply that never came. Importing this module replaces the writing of
 * dispositions on rhea's sessions (both directions) with one that starts a new range whenever
 * the outcome or settlement changes. Idempotent; every module that uses rhea imports it.
 */
import { createRequire } from "node:module";

interface Disposed {
  id: number;
  settled: boolean;
  state: unknown;
  link: { is_receiver(): boolean; session: { output(frame: unknown): void } };
}
interface Side {
  process(this: Side, ...args: unknown[]): void;
  updated: Disposed[];
  pending_dispositions?: Disposed[];
}

const require = createRequire(import.meta.url);
const Session = require("rhea/lib/session.js") as new (connection: unknown, channel: number) => { outgoing: Side; incoming: Side };
const frames = require("rhea/lib/frames.js") as { disposition(fields: Record<string, unknown>): unknown };
const message = require("rhea/lib/message.js") as { are_outcomes_equivalent(a: unknown, b: unknown): boolean };

const PATCHED = Symbol.for("edgefn.rhea-dispositions");

/** One disposition frame per run of consecutive deliveries with the same outcome and settlement. */
export function writeDispositions(deliveries: readonly Disposed[]): void {
  let first: Disposed | undefined;
  let last: Disposed | undefined;
  const flush = () => {
    if (first === undefined || last === undefined) return;
    first.link.session.output(frames.disposition({ role: first.link.is_receiver(), first: first.id, last: last.id, state: first.state, settled: first.settled }));
  };
  for (const d of deliveries) {
    const joins = first !== undefined && last !== undefined && d.id === last.id + 1 && d.settled === first.settled
      && d.link === first.link && (d.state === first.state || message.are_outcomes_equivalent(first.state, d.state));
    if (joins) {
      last = d;
      continue;
    }
    flush();
    first = d;
    last = d;
  }
  flush();
}

const sample = new Session({}, 0);
const outgoing = Object.getPrototypeOf(sample.outgoing) as Side & { [PATCHED]?: true };
const incoming = Object.getPrototypeOf(sample.incoming) as Side & { [PATCHED]?: true };

if (outgoing[PATCHED] !== true) {
  const process = outgoing.process;
  outgoing.process = function (this: Side, ...args: unknown[]) {
    const pending = this.pending_dispositions ?? [];
    this.pending_dispositions = []; // rhea writes none of them now; we do, correctly batched
    process.apply(this, args);
    writeDispositions(pending);
  };
  outgoing[PATCHED] = true;
}
if (incoming[PATCHED] !== true) {
  const process = incoming.process;
  incoming.process = function (this: Side, ...args: unknown[]) {
    const updated = this.updated;
    this.updated = [];
    writeDispositions(updated); // before: rhea writes them first there, then flow
    process.apply(this, args);
  };
  incoming[PATCHED] = true;
}
