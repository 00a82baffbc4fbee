/**
 * Which functions a site runs: spec.placement.sites (globs; `*` any run of characters, `?` one)
 * must match the site name, and a `trust: trusted` function is never placed on an untrusted
 * site. placement.requires is not a filter here: it becomes node affinity on the runtime pods
 * (labels `edgefn.dev/<capability>: "true"`), so the scheduler finds the nodes that offer it.
 */
import type { EdgeFunction } from "../../runtime/manifest.ts";

export type SiteTrust = "trusted" | "untrusted";

export interface PlacementDecision {
  placed: boolean;
  /** Why not, in one clause; empty when placed. */
  reason: string;
}

/** `edge-*` -> /^edge-.*$/; every other character literal. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${body}$`);
}

export function placeOnSite(fn: EdgeFunction, site: string, trust: SiteTrust): PlacementDecision {
  const { sites, trust: needs } = fn.spec.placement;
  if (!sites.some((glob) => globToRegExp(glob).test(site))) {
    return { placed: false, reason: `placement.sites [${sites.join(", ")}] does not match site ${site}` };
  }
  if (needs === "trusted" && trust === "untrusted") {
    return { placed: false, reason: `placement.trust is trusted and site ${site} is untrusted` };
  }
  return { placed: true, reason: "" };
}
