import { describe, expect, it } from "vitest";
import { EdgeFunctionSchema } from "../../runtime/manifest.ts";
import { globToRegExp, placeOnSite } from "./placement.ts";

const fn = (placement: Record<string, unknown>) =>
  EdgeFunctionSchema.parse({ apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name: "f" }, spec: { placement } });

describe("placeOnSite", () => {
  it.each<[string, Record<string, unknown>, string, "trusted" | "untrusted", boolean]>([
    ["everywhere by default", {}, "edge-1", "trusted", true],
    ["a glob that matches", { sites: ["edge-*"] }, "edge-1", "trusted", true],
    ["a glob that does not", { sites: ["edge-*"] }, "cloud", "trusted", false],
    ["one of several", { sites: ["cloud", "edge-?"] }, "edge-2", "trusted", true],
    ["? is one character", { sites: ["edge-?"] }, "edge-10", "trusted", false],
    ["dots are literal", { sites: ["a.b"] }, "axb", "trusted", false],
    ["trusted-only on a trusted site", { trust: "trusted" }, "edge-1", "trusted", true],
    ["trusted-only on an untrusted site", { trust: "trusted" }, "edge-1", "untrusted", false],
    ["any trust on an untrusted site", {}, "edge-1", "untrusted", true],
    ["requires is not a filter (node affinity)", { requires: ["gpu"] }, "edge-1", "trusted", true],
  ])("%s", (_case, placement, site, trust, placed) => {
    expect(placeOnSite(fn(placement), site, trust).placed).toBe(placed);
  });

  it("says why a function is left out", () => {
    expect(placeOnSite(fn({ sites: ["cloud"] }), "edge-1", "trusted").reason).toBe("placement.sites [cloud] does not match site edge-1");
    expect(placeOnSite(fn({ trust: "trusted" }), "edge-1", "untrusted").reason).toBe("placement.trust is trusted and site edge-1 is untrusted");
  });

  it("globToRegExp anchors the whole name", () => {
    expect(globToRegExp("edge-*").test("my-edge-1")).toBe(false);
  });
});
