/**
 * Which functions a site runs: spec.placement.sites (globs; `*` any run of characters, `?` one)
 * must match the site name, and a `trust: trusted` function is never placed on an untrusted
 * site. placement.requires is not a filter here: it becomes node affinity on the runtime pods
 * (labels `edgefn.dev/<capability>: "true"`), so the scheduler finds the nodes that offer it.
 */
import { notPlacedAt, type EdgeFunction } from "../../runtime/manifest.ts";

export type SiteTrust = "trusted" | "untrusted";

export interface PlacementDecision {
  placed: boolean;
  /** Why not, in one clause; empty when placed. */
  reason: string;
}

export { globToRegExp } from "../../runtime/manifest.ts";

export function placeOnSite(fn: EdgeFunction, site: string, trust: SiteTrust): PlacementDecision {
  const reason = notPlacedAt(fn, site, trust);
  return reason === undefined ? { placed: true, reason: "" } : { placed: false, reason };
}
