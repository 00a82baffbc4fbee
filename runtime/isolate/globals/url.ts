/**
 * Inside the isolate: URL and URLSearchParams from whatwg-url (the URL Standard's reference
 * implementation), with tr46 swapped for a host call (shims/tr46.ts, esbuild plugin), and
 * evaluated on first use (lazy.ts). Common absolute http(s) URLs are parsed by url-fast.ts
 * instead of whatwg-url's state machine; everything else about them stays whatwg-url's.
 */
import { defineLazyGlobals } from "./lazy.ts";
import { setDomainToASCII } from "./shims/tr46.ts";
import { parseSimpleURL, parseSimpleUrlencoded, serializeSimpleURL } from "./url-fast.ts";
import { decodeUtf8WithoutBOM } from "./utf8.ts";

/** A URL record of the URL Standard, as whatwg-url represents it. */
export interface URLRecord {
  scheme: string;
  username: string;
  password: string;
  /** A domain or opaque host, an IPv4 address as a number, an IPv6 address as 8 numbers. */
  host: string | number | number[] | null;
  port: number | null;
  /** A list of segments, or a string for an opaque path ("mailto:x"). */
  path: string[] | string;
  query: string | null;
  fragment: string | null;
}

interface BasicURLParseOptions {
  baseURL?: URLRecord | null;
  encoding?: string;
  url?: URLRecord;
  stateOverride?: string;
}

type BasicURLParse = (input: string, options?: BasicURLParseOptions) => URLRecord | null;

/**
 * For url.test.ts: parses taken by each parser (setters, with a stateOverride, are not
 * counted), and whether whatwg-url has been loaded.
 */
export const urlStats = { simple: 0, full: 0, whatwgLoaded: false };

interface WhatwgURL {
  URL: typeof globalThis.URL;
  URLSearchParams: typeof globalThis.URLSearchParams;
  basicURLParse: BasicURLParse;
  serializeURL(url: URLRecord, excludeFragment?: boolean): string;
  parseUrlencodedString(input: string): [string, string][];
}

interface Installable {
  install(globalObject: object, names: string[]): void;
}

let loaded: WhatwgURL | undefined;

function whatwgURL(): WhatwgURL {
  if (loaded !== undefined) return loaded;
  urlStats.whatwgLoaded = true;
  // require(), not import: esbuild then evaluates these modules only when this first runs.
  const wrapper = require("whatwg-url/webidl2js-wrapper.js") as { URL: Installable; URLSearchParams: Installable };
  const usm = require("whatwg-url/lib/url-state-machine.js") as Pick<WhatwgURL, "basicURLParse" | "serializeURL">;
  const fullParse = usm.basicURLParse;
  // whatwg-url's URL class calls `usm.basicURLParse(...)` through the module object, so this
  // puts the fast parser under the constructor, URL.parse, URL.canParse and the href setter.
  usm.basicURLParse = (input, options = {}) =>
    (options.url === undefined && options.stateOverride === undefined && options.encoding === undefined ? parseSimple(input) : null) ??
    fullParse(input, options);
  const urlencoded = require("whatwg-url/lib/urlencoded.js") as Pick<WhatwgURL, "parseUrlencodedString">;
  // Likewise for the query of every URL and URLSearchParams made from a string.
  const fullUrlencoded = urlencoded.parseUrlencodedString;
  urlencoded.parseUrlencodedString = (input) => parseSimpleUrlencoded(input) ?? fullUrlencoded(input);
  // Installed on a private object first: whatwg-url keeps its constructor registry there.
  const shared: Record<string, unknown> = { Array, Object, Promise, String, TypeError };
  wrapper.URL.install(shared, ["Window"]);
  wrapper.URLSearchParams.install(shared, ["Window"]);
  loaded = {
    URL: shared.URL as WhatwgURL["URL"],
    URLSearchParams: shared.URLSearchParams as WhatwgURL["URLSearchParams"],
    basicURLParse: fullParse,
    serializeURL: usm.serializeURL,
    parseUrlencodedString: fullUrlencoded,
  };
  return loaded;
}

/**
 * url-fast.ts's parser, counted. It serves URL parsing with or without a base: for input of
 * its shape ("http://..."), the state machine goes to the special authority ignore slashes
 * state either way, and the base is not consulted. Setters (a url and a stateOverride) stay
 * with the state machine.
 */
function parseSimple(input: string): URLRecord | null {
  const record = parseSimpleURL(input);
  if (record === null) urlStats.full++;
  else urlStats.simple++;
  return record;
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

/**
 * Parses an absolute URL (no base: a Worker has no document URL); null if invalid. Simple
 * URLs are parsed without loading whatwg-url.
 */
export function parseURL(input: string): URLRecord | null {
  return parseSimple(input) ?? whatwgURL().basicURLParse(input);
}

export function serializeURL(url: URLRecord): string {
  return serializeSimpleURL(url) ?? whatwgURL().serializeURL(url);
}

/**
 * The application/x-www-form-urlencoded parser. It is defined on bytes; decoding first gives
 * the same entries, since invalid UTF-8 becomes U+FFFD either way. Bodies with nothing to
 * percent-decode are parsed without loading whatwg-url.
 */
export function parseUrlencoded(bytes: Uint8Array): [string, string][] {
  const text = decodeUtf8WithoutBOM(bytes);
  return parseSimpleUrlencoded(text) ?? whatwgURL().parseUrlencodedString(text);
}
