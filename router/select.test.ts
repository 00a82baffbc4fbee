import { describe, expect, it } from "vitest";
import {
  type Candidate,
  type LinkHealth,
  type LocalCandidate,
  type PickOptions,
  type RemoteCandidate,
  type SkipReason,
  candidateId,
  pickConsumer,
  skipReason,
} from "./select.ts";

const NOW = 100_000;
const HEALTHY: LinkHealth = { credit: 10, outstanding: 0, lastSettledAt: null, oldestUnsettledAt: null };
/** Unsettled for `ms` and never settled since. */
const stuckFor = (ms: number): Partial<LinkHealth> => ({ outstanding: 1, oldestUnsettledAt: NOW - ms, lastSettledAt: null });

const local = (id: string, health: Partial<LinkHealth> = {}): LocalCandidate => ({ kind: "local", id, ...HEALTHY, ...health });
const remote = (router: string, cost: number, health: Partial<LinkHealth> = {}): RemoteCandidate => ({
  kind: "remote",
  router,
  cost,
  nextHop: `hop-${router}`,
  ...HEALTHY,
  ...health,
});

function pick(candidates: Candidate[], options: Partial<PickOptions> = {}) {
  const result = pickConsumer(candidates, { now: NOW, ...options });
  return {
    picked: result.picked === null ? null : candidateId(result.picked),
    skipped: result.skipped.map((s) => [candidateId(s.candidate), s.reason]),
  };
}

describe("pickConsumer", () => {
  it.each<[string, Candidate[], Partial<PickOptions>, string | null, [string, SkipReason][]]>([
    ["a local consumer beats any remote router", [remote("R", 1), local("a")], {}, "a", []],
    ["a local consumer with no credit is skipped", [local("a", { credit: 0 }), local("b")], {}, "b", [["a", "no-credit"]]],
    ["a local consumer hung past the threshold is skipped", [local("a", stuckFor(1001)), local("b", { outstanding: 5 })], {}, "b", [["a", "hung"]]],
    ["a local consumer at exactly the threshold is not hung yet", [local("a", stuckFor(1000)), remote("R", 1)], {}, "a", []],
    ["a local consumer under the threshold is not hung", [local("a", stuckFor(10)), remote("R", 1)], {}, "a", []],
    ["a slow delivery on a consumer that still settles others is not hung",
      [local("a", { outstanding: 2, oldestUnsettledAt: NOW - 60_000, lastSettledAt: NOW - 5 }), remote("R", 1)], {}, "a", []],
    ["a consumer silent since an old settlement is hung",
      [local("a", { outstanding: 2, oldestUnsettledAt: NOW - 5000, lastSettledAt: NOW - 4000 }), remote("R", 1)], {}, "R", [["a", "hung"]]],
    ["hungAfterMs is configurable", [local("a", stuckFor(200)), remote("R", 1)], { hungAfterMs: 100 }, "R", [["a", "hung"]]],
    ["a hung consumer is reported hung even with credit left", [local("a", { ...stuckFor(5000), credit: 99 })], {}, null, [["a", "hung"]]],
    ["saturated locals fall to the cheapest remote", [local("a", { credit: 0 }), local("b", { credit: 0 }), remote("R2", 2), remote("R1", 1)], {},
      "R1", [["a", "no-credit"], ["b", "no-credit"]]],
    ["a remote whose next-hop link is hung falls to the next remote", [remote("R1", 1, stuckFor(3000)), remote("R2", 3)], {}, "R2", [["R1", "hung"]]],
    ["a remote whose next-hop link has no credit falls to the next remote", [remote("R1", 1, { credit: 0 }), remote("R2", 3)], {}, "R2", [["R1", "no-credit"]]],
    ["among equal cost, the fewest outstanding wins", [local("a", { outstanding: 3 }), local("b", { outstanding: 1 }), local("c", { outstanding: 2 })], {}, "b", []],
    ["fewest outstanding beats the round-robin turn", [local("a", { outstanding: 3 }), local("b", { outstanding: 1 })], { turn: 0 }, "b", []],
    ["more expensive candidates are not reported when a cheaper one is picked", [local("a"), remote("R", 1, { credit: 0 })], {}, "a", []],
    ["nothing able to take it → null with every reason", [remote("R", 2, stuckFor(5000)), local("a", { credit: 0 }), remote("Q", 1, { credit: -1 })], {},
      null, [["a", "no-credit"], ["Q", "no-credit"], ["R", "hung"]]],
    ["no candidates → null", [], {}, null, []],
  ])("%s", (_name, candidates, options, picked, skipped) => {
    expect(pick(candidates, options)).toEqual({ picked, skipped });
  });

  it.each<[number, string]>([
    [0, "a"],
    [1, "b"],
    [2, "c"],
    [3, "a"],
    [7, "b"],
  ])("spreads equal local consumers round-robin: turn %i → %s", (turn, expected) => {
    // Given in scrambled order: the rotation follows the ids, not the input order.
    expect(pick([local("c"), local("a"), local("b")], { turn }).picked).toBe(expected);
  });

  it.each<[number, string]>([
    [0, "R1"],
    [1, "R2"],
    [2, "R1"],
  ])("spreads equal-cost remote routers round-robin: turn %i → %s", (turn, expected) => {
    const candidates = [local("a", { credit: 0 }), remote("R2", 4), remote("R1", 4), remote("R3", 9)];
    expect(pick(candidates, { turn })).toEqual({ picked: expected, skipped: [["a", "no-credit"]] });
  });

  it("returns the candidate object itself, so the caller has its link", () => {
    const b = remote("B", 1);
    expect(pickConsumer([b], { now: NOW }).picked).toBe(b);
  });
});

describe("skipReason", () => {
  it.each<[string, Partial<LinkHealth>, number | undefined, SkipReason | null]>([
    ["healthy", {}, undefined, null],
    ["no credit", { credit: 0 }, undefined, "no-credit"],
    ["unsettled 1001 ms, never settled (default threshold)", stuckFor(1001), undefined, "hung"],
    ["unsettled 1000 ms (default threshold)", stuckFor(1000), undefined, null],
    ["unsettled 1001 ms but settled 1 s ago", { ...stuckFor(1001), lastSettledAt: NOW - 1000 }, undefined, null],
    ["unsettled 51 ms with a 50 ms threshold", stuckFor(51), 50, "hung"],
    ["hung and out of credit reports hung", { ...stuckFor(2000), credit: 0 }, undefined, "hung"],
  ])("%s → %s", (_name, health, hungAfterMs, expected) => {
    expect(skipReason({ ...HEALTHY, ...health }, NOW, hungAfterMs)).toBe(expected);
  });
});
