/**
 * Inside the isolate: stands in for the `tr46` package under whatwg-url (esbuild alias in
 * ../../globals-script.ts). tr46 carries the whole UTS-46 mapping table, about 300 KB of heap
 * in every context; here ASCII domains are lower-cased in JS and anything else (non-ASCII, or
 * a punycode `xn--` label to validate) is one synchronous call to the host's
 * url.domainToASCII, which implements the same UTS-46 processing as the URL Standard.
 */

let hostToASCII: ((domain: string) => string) | undefined;

/** Called once by the globals script with the host function (HOST_GLOBALS.domainToASCII). */
export function setDomainToASCII(fn: (domain: string) => string): void {
  hostToASCII = fn;
}

const NEEDS_HOST = /[^\x00-\x7f]|(^|[.])xn--/i;

/** tr46's toASCII: the ASCII form of `domain`, or null when UTS-46 processing fails. */
export function toASCII(domain: string, options: { useSTD3ASCIIRules?: boolean; verifyDNSLength?: boolean } = {}): string | null {
  if (!NEEDS_HOST.test(domain) && !options.useSTD3ASCIIRules && !options.verifyDNSLength) {
    return domain.toLowerCase();
  }
  if (hostToASCII === undefined) return null;
  const result = hostToASCII(domain);
  return result === "" ? null : result;
}

/** Not used by whatwg-url's URL API; present so the module has tr46's shape. */
export function toUnicode(domain: string): { domain: string; error: boolean } {
  return { domain, error: false };
}
