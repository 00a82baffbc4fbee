/**
 * Who a site is, from the SAN URIs of its certificate (pki.ts writes them):
 * `urn:edgefn:site:<site>`, `urn:edgefn:trust:<trusted|untrusted>`, `urn:edgefn:network:<id>`
 * and one `urn:edgefn:grant:<address>` per address an untrusted site may serve. String parsing
 * only, so the router reads peers' certificates without loading the certificate library.
 */

export type Trust = "trusted" | "untrusted";
export interface SiteIdentity {
  site: string;
  trust: Trust;
  grants: string[];
  network: string | null;
}

export const URN = "urn:edgefn:";
export const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const NETWORK = /^[a-z0-9-]{1,63}$/;
// Segments of URI unreserved characters: nothing node would quote in a subjectaltname string.
export const GRANT = /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;

export function edgefnUris(subjectaltname: string): [string, string][] {
  const out: [string, string][] = [];
  for (const entry of subjectaltname.split(", ")) {
    if (!entry.startsWith(`URI:${URN}`)) continue; // a quoted value (node escapes unsafe ones) is never ours
    const rest = entry.slice(`URI:${URN}`.length);
    const colon = rest.indexOf(":");
    if (colon > 0) out.push([rest.slice(0, colon), rest.slice(colon + 1)]);
  }
  return out;
}

/**
 * Identity from node's tls PeerCertificate `subjectaltname` string. Null without exactly one
 * well-formed site and one known trust, or with more than one network; malformed grants are dropped.
 */
export function identityFromAltNames(subjectaltname: string | undefined): SiteIdentity | null {
  if (!subjectaltname) return null;
  const uris = edgefnUris(subjectaltname);
  const all = (kind: string) => uris.filter(([k]) => k === kind).map(([, v]) => v);
  const [sites, trusts, networks] = [all("site"), all("trust"), all("network")];
  const [site, trust] = [sites[0], trusts[0]];
  if (sites.length !== 1 || site === undefined || !LABEL.test(site)) return null;
  if (trusts.length !== 1 || (trust !== "trusted" && trust !== "untrusted")) return null;
  if (networks.length > 1 || (networks[0] !== undefined && !NETWORK.test(networks[0]))) return null;
  const grants = all("grant").filter((g) => g.length <= 255 && GRANT.test(g));
  return { site, trust, grants, network: networks[0] ?? null };
}

