import { describe, expect, it } from "vitest";
import { type Advertisement, type AdvertisementInput, type Path, Topology, parseAdvertisement } from "./topology.ts";

type Edge = readonly [a: string, b: string, cost: number];

/** One Topology per router, links set on both ends, every advertisement flooded to everyone. */
function network(edges: readonly Edge[]): Map<string, Topology> {
  const routers = new Map<string, Topology>();
  const get = (id: string) => routers.get(id) ?? routers.set(id, new Topology(id)).get(id)!;
  for (const [a, b, cost] of edges) {
    get(a).setLink(b, cost);
    get(b).setLink(a, cost);
  }
  flood(routers);
  return routers;
}

function flood(routers: Map<string, Topology>): void {
  for (const from of routers.values()) {
    for (const to of routers.values()) if (to !== from) to.applyAdvertisement(from.localAdvertisement());
  }
}

function pathsOf(topology: Topology): Record<string, Path> {
  return Object.fromEntries(topology.paths());
}

const LINE: Edge[] = [["A", "B", 1], ["B", "C", 1]];
const TRIANGLE: Edge[] = [["A", "B", 1], ["B", "C", 5], ["C", "A", 1]];
const SQUARE: Edge[] = [["A", "B", 1], ["A", "C", 1], ["B", "D", 1], ["C", "D", 1]];

describe("parseAdvertisement", () => {
  const valid: AdvertisementInput = { router: "A", seq: 1, links: [{ peer: "B", cost: 1 }], addresses: [{ address: "fn/x", consumers: 2 }] };

  it("accepts a well-formed advertisement", () => {
    expect(parseAdvertisement(valid)).toEqual(valid);
  });

  it.each<[string, unknown, string]>([
    ["missing seq", { ...valid, seq: undefined }, "seq"],
    ["fractional seq", { ...valid, seq: 1.5 }, "seq"],
    ["negative seq", { ...valid, seq: -1 }, "seq"],
    ["empty router id", { ...valid, router: "" }, "router"],
    ["zero cost", { ...valid, links: [{ peer: "B", cost: 0 }] }, "links.0.cost"],
    ["infinite cost", { ...valid, links: [{ peer: "B", cost: Infinity }] }, "links.0.cost"],
    ["link to itself", { ...valid, links: [{ peer: "A", cost: 1 }] }, "links.0.peer"],
    ["duplicate peer", { ...valid, links: [{ peer: "B", cost: 1 }, { peer: "B", cost: 2 }] }, "links.1.peer"],
    ["duplicate address", { ...valid, addresses: [{ address: "fn/x", consumers: 1 }, { address: "fn/x", consumers: 1 }] }, "addresses.1.address"],
    ["fractional consumers", { ...valid, addresses: [{ address: "fn/x", consumers: 0.5 }] }, "addresses.0.consumers"],
    ["not an object", "hello", ""],
  ])("rejects %s", (_name, input, path) => {
    let issuePaths: string[] = [];
    try {
      parseAdvertisement(input);
    } catch (error) {
      issuePaths = (error as { issues: { path: PropertyKey[] }[] }).issues.map((i) => i.path.join("."));
    }
    expect(issuePaths).toContain(path);
  });
});

describe("Topology.paths", () => {
  it.each<[string, Edge[], string, Record<string, Path>]>([
    ["line from A", LINE, "A", { A: { cost: 0, nextHop: null }, B: { cost: 1, nextHop: "B" }, C: { cost: 2, nextHop: "B" } }],
    ["line from B", LINE, "B", { A: { cost: 1, nextHop: "A" }, B: { cost: 0, nextHop: null }, C: { cost: 1, nextHop: "C" } }],
    ["line from C", LINE, "C", { A: { cost: 2, nextHop: "B" }, B: { cost: 1, nextHop: "B" }, C: { cost: 0, nextHop: null } }],
    ["triangle from A", TRIANGLE, "A", { A: { cost: 0, nextHop: null }, B: { cost: 1, nextHop: "B" }, C: { cost: 1, nextHop: "C" } }],
    ["triangle from B (cheaper two hops via A than the direct 5)", TRIANGLE, "B", { A: { cost: 1, nextHop: "A" }, B: { cost: 0, nextHop: null }, C: { cost: 2, nextHop: "A" } }],
    ["triangle from C", TRIANGLE, "C", { A: { cost: 1, nextHop: "A" }, B: { cost: 2, nextHop: "A" }, C: { cost: 0, nextHop: null } }],
    ["square, equal-cost paths tie-break to the lower next hop", SQUARE, "A", { A: { cost: 0, nextHop: null }, B: { cost: 1, nextHop: "B" }, C: { cost: 1, nextHop: "C" }, D: { cost: 2, nextHop: "B" } }],
    ["square from D", SQUARE, "D", { A: { cost: 2, nextHop: "B" }, B: { cost: 1, nextHop: "B" }, C: { cost: 1, nextHop: "C" }, D: { cost: 0, nextHop: null } }],
  ])("%s", (_name, edges, self, expected) => {
    expect(pathsOf(network(edges).get(self)!)).toEqual(expected);
  });

  it("does not depend on the order advertisements arrive in", () => {
    const forward = network(SQUARE).get("A")!;
    const reversed = new Topology("A");
    reversed.setLink("B", 1);
    reversed.setLink("C", 1);
    for (const id of ["D", "C", "B"]) reversed.applyAdvertisement(forward.advertisement(id)!);
    expect(pathsOf(reversed)).toEqual(pathsOf(forward));
  });

  it("only the local router is reachable before any advertisement arrives", () => {
    const t = new Topology("A");
    t.setLink("B", 1);
    expect(pathsOf(t)).toEqual({ A: { cost: 0, nextHop: null } });
  });

  it.each<[string, number, number, number]>([
    ["equal", 2, 2, 2],
    ["local end higher", 7, 3, 7],
    ["remote end higher", 3, 7, 7],
  ])("a link advertised with different costs at each end costs the higher (%s)", (_name, costAtA, costAtB, expected) => {
    const a = new Topology("A");
    const b = new Topology("B");
    a.setLink("B", costAtA);
    b.setLink("A", costAtB);
    a.applyAdvertisement(b.localAdvertisement());
    b.applyAdvertisement(a.localAdvertisement());
    expect(a.paths().get("B")).toEqual({ cost: expected, nextHop: "B" });
    expect(b.paths().get("A")).toEqual({ cost: expected, nextHop: "A" });
  });

  it.each<[string, Edge[], [withdrawer: string, peer: string], string, Record<string, Path>]>([
    ["triangle: B drops B-A, A reroutes to B through C", TRIANGLE, ["B", "A"], "A",
      { A: { cost: 0, nextHop: null }, B: { cost: 6, nextHop: "C" }, C: { cost: 1, nextHop: "C" } }],
    ["triangle: A drops A-B, B reroutes to C directly", TRIANGLE, ["A", "B"], "B",
      { B: { cost: 0, nextHop: null }, C: { cost: 5, nextHop: "C" }, A: { cost: 6, nextHop: "C" } }],
    ["line: C drops C-B, C disappears for A", LINE, ["C", "B"], "A",
      { A: { cost: 0, nextHop: null }, B: { cost: 1, nextHop: "B" } }],
    ["line: A drops its own link, everything disappears for A", LINE, ["A", "B"], "A",
      { A: { cost: 0, nextHop: null } }],
    ["square: B drops B-D, A reaches D through C", SQUARE, ["B", "D"], "A",
      { A: { cost: 0, nextHop: null }, B: { cost: 1, nextHop: "B" }, C: { cost: 1, nextHop: "C" }, D: { cost: 2, nextHop: "C" } }],
  ])("link withdrawn by one side only: %s", (_name, edges, [withdrawer, peer], viewer, expected) => {
    const routers = network(edges);
    const view = routers.get(viewer)!;
    expect(routers.get(withdrawer)!.removeLink(peer)).toBe(true);
    if (withdrawer !== viewer) expect(view.applyAdvertisement(routers.get(withdrawer)!.localAdvertisement())).toBe(true);
    expect(pathsOf(view)).toEqual(expected);
  });

  it("never routes through a router that advertises no transit (an untrusted end), but reaches it", () => {
    // Square A-B-D / A-C-D, with C an end: A reaches D only through B, and C itself directly.
    const routers = network(SQUARE);
    const c = routers.get("C")!;
    const a = routers.get("A")!;
    const endAd = { ...c.localAdvertisement(), seq: c.localAdvertisement().seq + 1, transit: false };
    for (const [id, t] of routers) if (id !== "C") t.applyAdvertisement(endAd);
    routers.get("B")!.removeLink("D");
    a.applyAdvertisement(routers.get("B")!.localAdvertisement());
    expect(pathsOf(a)).toEqual({ A: { cost: 0, nextHop: null }, B: { cost: 1, nextHop: "B" }, C: { cost: 1, nextHop: "C" } });
  });

  it("caches paths until something changes", () => {
    const a = network(TRIANGLE).get("A")!;
    const first = a.paths();
    expect(a.paths()).toBe(first);
    expect(a.setLink("B", 1)).toBe(false); // same cost: no change
    expect(a.paths()).toBe(first);
    expect(a.setLink("B", 9)).toBe(true);
    expect(a.paths()).not.toBe(first);
    expect(a.paths().get("B")).toEqual({ cost: 6, nextHop: "C" }); // A-C-B = 1 + 5 beats the direct 9
  });
});

describe("Topology.applyAdvertisement", () => {
  const ad = (seq: number, cost = 1): Advertisement => ({ router: "B", seq, links: [{ peer: "A", cost }], addresses: [] });

  it.each<[string, number, number, boolean, number]>([
    ["higher seq wins", 2, 3, true, 3],
    ["equal seq is ignored", 2, 2, false, 1],
    ["older seq is ignored", 2, 1, false, 1],
    ["much higher seq wins", 0, 1000, true, 3],
  ])("%s", (_name, heldSeq, incomingSeq, changed, heldCost) => {
    const t = new Topology("A");
    t.setLink("B", 1);
    expect(t.applyAdvertisement(ad(heldSeq, 1))).toBe(true);
    const version = t.version;
    expect(t.applyAdvertisement(ad(incomingSeq, 3))).toBe(changed);
    expect(t.version > version).toBe(changed);
    expect(t.paths().get("B")?.cost).toBe(heldCost);
  });

  it.each<[string, number, boolean, number]>([
    ["older copy of itself is ignored", 1, false, 2],
    ["equal copy of itself makes its seq jump past it", 2, true, 3],
    ["newer copy of itself (from before a restart) makes its seq jump past it", 50, true, 51],
  ])("own advertisement: %s", (_name, incomingSeq, changed, seqAfter) => {
    const t = new Topology("A");
    t.setLink("B", 1);
    t.setLocalConsumers("fn/x", 1); // local seq is now 2
    expect(t.applyAdvertisement({ router: "A", seq: incomingSeq, links: [], addresses: [] })).toBe(changed);
    expect(t.localAdvertisement()).toEqual({ router: "A", seq: seqAfter, links: [{ peer: "B", cost: 1 }], addresses: [{ address: "fn/x", consumers: 1 }] });
  });

  it.each<[string, (t: Topology) => boolean, boolean]>([
    ["setLink to a new peer", (t) => t.setLink("C", 1), true],
    ["setLink with a new cost", (t) => t.setLink("B", 2), true],
    ["setLink with the same cost", (t) => t.setLink("B", 1), false],
    ["removeLink of a known peer", (t) => t.removeLink("B"), true],
    ["removeLink of an unknown peer", (t) => t.removeLink("Z"), false],
    ["setLocalConsumers with a new count", (t) => t.setLocalConsumers("fn/x", 2), true],
    ["setLocalConsumers with the same count", (t) => t.setLocalConsumers("fn/x", 1), false],
    ["setLocalConsumers to 0 (withdraw)", (t) => t.setLocalConsumers("fn/x", 0), true],
    ["setLocalConsumers 0 on an unknown address", (t) => t.setLocalConsumers("fn/y", 0), false],
  ])("local change %s → changed=%s, seq and version move with it", (_name, change, changed) => {
    const t = new Topology("A");
    t.setLink("B", 1);
    t.setLocalConsumers("fn/x", 1);
    const before = { seq: t.localAdvertisement().seq, version: t.version };
    expect(change(t)).toBe(changed);
    const step = changed ? 1 : 0;
    expect({ seq: t.localAdvertisement().seq, version: t.version }).toEqual({ seq: before.seq + step, version: before.version + step });
  });

  it.each<[string, () => unknown]>([
    ["a self link", () => new Topology("A").setLink("A", 1)],
    ["a zero cost", () => new Topology("A").setLink("B", 0)],
    ["a NaN cost", () => new Topology("A").setLink("B", Number.NaN)],
    ["a negative consumer count", () => new Topology("A").setLocalConsumers("fn/x", -1)],
  ])("rejects %s", (_name, call) => {
    expect(call).toThrow(RangeError);
  });
});

describe("Topology.removeRouter", () => {
  it.each<[string, Edge[], string, string, string[]]>([
    ["line: removing B cuts off C too", LINE, "A", "B", ["A"]],
    ["line: removing C leaves B", LINE, "A", "C", ["A", "B"]],
    ["triangle: removing C leaves the direct link", TRIANGLE, "B", "C", ["A", "B"]],
  ])("%s", (_name, edges, viewer, removed, reachable) => {
    const view = network(edges).get(viewer)!;
    expect(view.removeRouter(removed)).toBe(true);
    expect([...view.paths().keys()].sort()).toEqual(reachable);
    expect(view.advertisement(removed)).toBeUndefined();
  });

  it("returns false for an unknown router and accepts the router again at any seq", () => {
    const routers = network(LINE);
    const a = routers.get("A")!;
    const version = a.version;
    expect(a.removeRouter("Z")).toBe(false);
    expect(a.version).toBe(version);
    expect(a.removeRouter("B")).toBe(true);
    const restarted = new Topology("B"); // seq starts over, lower than the one A held
    restarted.setLink("A", 1);
    expect(a.applyAdvertisement(restarted.localAdvertisement())).toBe(true);
    expect(a.paths().get("B")).toEqual({ cost: 1, nextHop: "B" });
  });
});

describe("Topology.whereIs", () => {
  type Consumers = Record<string, number>;

  function withConsumers(edges: Edge[], consumers: Consumers): Map<string, Topology> {
    const routers = network(edges);
    for (const [router, n] of Object.entries(consumers)) routers.get(router)!.setLocalConsumers("fn/x", n);
    flood(routers);
    return routers;
  }

  it.each<[string, Edge[], Consumers, string, [router: string, cost: number, nextHop: string | null, consumers: number][]]>([
    ["line from A: local first, then by cost", LINE, { A: 1, B: 2, C: 3 }, "A", [["A", 0, null, 1], ["B", 1, "B", 2], ["C", 2, "B", 3]]],
    ["line from C: far end last", LINE, { A: 1, B: 2 }, "C", [["B", 1, "B", 2], ["A", 2, "B", 1]]],
    ["triangle from B: C costs 2 through A", TRIANGLE, { A: 1, C: 1 }, "B", [["A", 1, "A", 1], ["C", 2, "A", 1]]],
    ["square from A: equal cost ordered by router id", SQUARE, { C: 1, B: 1, D: 4 }, "A", [["B", 1, "B", 1], ["C", 1, "C", 1], ["D", 2, "B", 4]]],
    ["withdrawn consumers (count 0) are not listed", LINE, { B: 0, C: 1 }, "A", [["C", 2, "B", 1]]],
    ["nobody has it", TRIANGLE, {}, "A", []],
  ])("%s", (_name, edges, consumers, viewer, expected) => {
    const found = withConsumers(edges, consumers).get(viewer)!.whereIs("fn/x");
    expect(found.map((l) => [l.router, l.cost, l.nextHop, l.consumers])).toEqual(expected);
  });

  it("leaves out routers that became unreachable", () => {
    const routers = withConsumers(LINE, { B: 1, C: 1 });
    const a = routers.get("A")!;
    routers.get("B")!.removeLink("C");
    a.applyAdvertisement(routers.get("B")!.localAdvertisement());
    expect(a.whereIs("fn/x").map((l) => l.router)).toEqual(["B"]);
  });

  it("follows a remote consumer count change without a periodic tick", () => {
    const routers = withConsumers(LINE, { C: 1 });
    const a = routers.get("A")!;
    const c = routers.get("C")!;
    expect(c.setLocalConsumers("fn/x", 0)).toBe(true);
    expect(a.applyAdvertisement(c.localAdvertisement())).toBe(true);
    expect(a.whereIs("fn/x")).toEqual([]);
  });
});
