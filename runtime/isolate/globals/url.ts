/**
 * Inside the isolate: URL and URLSearchParams from whatwg-url (the URL Standard's reference
 * implementation), with tr46 swapped for a host call (shims/tr46.ts, esbuild plugin), and
 * evaluated on first use (lazy.ts).
 */
import { defineLazyGlobals } from "./lazy.ts";
import { setDomainToASCII } from "./shims/tr46.ts";
import { decodeUtf8WithoutBOM } from "./utf8.ts";

/** A URL record of the URL Standard, as whatwg-url represents it. */
export interface URLRecord {
  scheme: string;
  username: string;
  password: string;
  host: unknown;
  fragment: string | null;
}

interface WhatwgURL {
  URL: typeof globalThis.URL;
  URLSearchParams: typeof globalThis.URLSearchParams;
  basicURLParse(input: string, options?: { baseURL?: URLRecord | null }): URLRecord | null;
  serializeURL(url: URLRecord, excludeFragment?: boolean): string;
  parseUrlencodedString(input: string): [string, string][];
}

interface Installable {
  install(globalObject: object, names: string[]): void;
}

let loaded: WhatwgURL | undefined;

function whatwgURL(): WhatwgURL {
  if (loaded !== undefined) return loaded;
  // require(), not import: esbuild then evaluates these modules only when this first runs.
  const wrapper = require("whatwg-url/webidl2js-wrapper.js") as { URL: Installable; URLSearchParams: Installable };
  const usm = require("whatwg-url/lib/url-state-machine.js") as Pick<WhatwgURL, "basicURLParse" | "serializeURL">;
  const urlencoded = require("whatwg-url/lib/urlencoded.js") as Pick<WhatwgURL, "parseUrlencodedString">;
  // Installed on a private object first: whatwg-url keeps its constructor registry there.
  const shared: Record<string, unknown> = { Array, Object, Promise, String, TypeError };
  wrapper.URL.install(shared, ["Window"]);
  wrapper.URLSearchParams.install(shared, ["Window"]);
  loaded = {
    URL: shared.URL as WhatwgURL["URL"],
    URLSearchParams: shared.URLSearchParams as WhatwgURL["URLSearchParams"],
    basicURLParse: usm.basicURLParse,
    serializeURL: usm.serializeURL,
    parseUrlencodedString: urlencoded.parseUrlencodedString,
  };
  return loaded;
}

export function installURL(g: Record<string, unknown>, domainToASCII: (domain: string) => string): void {
  setDomainToASCII(domainToASCII);
  defineLazyGlobals(g, ["URL", "URLSearchParams"], () => {
    const { URL, URLSearchParams } = whatwgURL();
    return { URL, URLSearchParams };
  });
}

/** No URLSearchParams exists before whatwg-url is loaded, so this never loads it. */
export function isURLSearchParams(value: unknown): value is URLSearchParams {
  return loaded !== undefined && value instanceof loaded.URLSearchParams;
}

/** Parses an absolute URL (no base: a Worker has no document URL); null if invalid. */
export function parseURL(input: string): URLRecord | null {
  return whatwgURL().basicURLParse(input);
}

export function serializeURL(url: URLRecord): string {
  return whatwgURL().serializeURL(url);
}

/**
 * The application/x-www-form-urlencoded parser. It is defined on bytes; decoding first gives
 * the same entries, since invalid UTF-8 becomes U+FFFD either way.
 */
export function parseUrlencoded(bytes: Uint8Array): [string, string][] {
  return whatwgURL().parseUrlencodedString(decodeUtf8WithoutBOM(bytes));
}
