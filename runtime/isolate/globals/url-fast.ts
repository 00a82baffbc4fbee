/**
 * Inside the isolate: a parser for the URLs functions see on every request
 * (`new URL(request.url)`, `http://127.0.0.1:8787/hello/x?y=1`) that builds the same URL
 * record as whatwg-url's state machine, in well under a microsecond where the state machine
 * takes 10-20. It takes only inputs that parser would merely split, lower-case and drop a
 * default port from: an absolute http(s) URL with a plain ASCII domain or canonical IPv4
 * host, no credentials, components that need no percent-encoding, and no dot segments. For
 * anything else it returns null, and url.ts asks whatwg-url.
 */
import type { URLRecord } from "./url.ts";

/**
 * Characters each component keeps as they are: printable ASCII minus the component's
 * percent-encode set. Also minus `\`, which the state machine reads as `/` up to the query
 * (left out of all three, as it is rare).
 */
const PATH_CHAR = String.raw`[!$-;=@-\[\]_a-z|~]`; // not "#<>?`{}^ ("/" separates segments)
const QUERY_CHAR = String.raw`[!$-&(-;=?-\[\]-~]`; // not "#<>' (the special-query set)
const FRAGMENT_CHAR = String.raw`[!#-;=?-\[\]-_a-~]`; // not "<>`

/**
 * scheme `://` host (`:` port)? path? (`?` query)? (`#` fragment)?, with no tab, newline,
 * space or other C0 control anywhere, so there is nothing to trim or strip either.
 */
const SIMPLE_URL = new RegExp(
  String.raw`^([Hh][Tt][Tt][Pp][Ss]?)://((?:[0-9A-Za-z-]+\.)*[0-9A-Za-z-]+)(?::([0-9]{1,5}))?` +
    String.raw`(/${PATH_CHAR}*)?(?:\?(${QUERY_CHAR}*))?(?:#(${FRAGMENT_CHAR}*))?$`,
);

/** a.b.c.d, each 0-255 in decimal without leading zeros. */
const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/** The URL record of `input`, or null when the input is not of the simple shape. */
export function parseSimpleURL(input: string): URLRecord | null {
  const match = SIMPLE_URL.exec(input);
  if (match === null) return null;
  const [, schemeText, hostText, portText, pathText, query, fragment] = match;
  const scheme = schemeText!.length === 4 ? "http" : "https";

  const domain = hostText!.toLowerCase();
  // Punycode labels need UTS-46 validation.
  if (domain.includes("xn--")) return null;
  let host: string | number = domain;
  // A last label starting with a digit may be an IPv4 number (decimal, octal or hex).
  const last = domain.charCodeAt(domain.lastIndexOf(".") + 1);
  if (last >= 0x30 && last <= 0x39) {
    if (!CANONICAL_IPV4.test(domain)) return null;
    const [a, b, c, d] = domain.split(".").map(Number) as [number, number, number, number];
    host = ((a * 256 + b) * 256 + c) * 256 + d;
  }

  let port: number | null = null;
  if (portText !== undefined) {
    port = Number(portText);
    if (port > 65535) return null;
    if (port === (scheme === "http" ? 80 : 443)) port = null;
  }

  // With no "/" after the host the path is one empty segment: "http://a?q" is "http://a/?q".
  const path = pathText === undefined ? [""] : pathText.slice(1).split("/");
  for (const segment of path) {
    if (isDotSegment(segment)) return null;
  }

  // Same properties, in the same order, as whatwg-url's records.
  return { scheme, username: "", password: "", host, port, path, query: query ?? null, fragment: fragment ?? null };
}

/** "." or "..", any dot possibly written %2e or %2E: the path parser would resolve these. */
function isDotSegment(segment: string): boolean {
  if (segment.length === 0 || segment.length > 6 || (segment[0] !== "." && segment[0] !== "%")) return false;
  const lower = segment.toLowerCase();
  return lower === "." || lower === "%2e" || lower === ".." || lower === ".%2e" || lower === "%2e." || lower === "%2e%2e";
}

/**
 * The URL serializer for records with an http(s) scheme, no credentials, a domain or IPv4
 * host and a path list (every record parseSimpleURL makes); null for any other record.
 */
export function serializeSimpleURL(url: URLRecord): string | null {
  const { host } = url;
  if ((url.scheme !== "http" && url.scheme !== "https") || url.username !== "" || url.password !== "" || typeof url.path === "string") {
    return null;
  }
  let output = url.scheme + "://";
  if (typeof host === "string") output += host;
  else if (typeof host === "number") output += `${host >>> 24}.${(host >>> 16) & 255}.${(host >>> 8) & 255}.${host & 255}`;
  else return null;
  if (url.port !== null) output += ":" + url.port;
  for (const segment of url.path) output += "/" + segment;
  if (url.query !== null) output += "?" + url.query;
  if (url.fragment !== null) output += "#" + url.fragment;
  return output;
}

/**
 * The application/x-www-form-urlencoded string parser for input with nothing to decode (no
 * `%`, no lone surrogate), where UTF-8 encoding, splitting the bytes and decoding them back
 * amounts to splitting the string; null for other input. `+` still becomes a space.
 */
export function parseSimpleUrlencoded(input: string): [string, string][] | null {
  if (input.includes("%") || !input.isWellFormed()) return null;
  const output: [string, string][] = [];
  for (const sequence of input.split("&")) {
    if (sequence === "") continue;
    const equals = sequence.indexOf("=");
    const name = equals === -1 ? sequence : sequence.slice(0, equals);
    const value = equals === -1 ? "" : sequence.slice(equals + 1);
    output.push([name.replaceAll("+", " "), value.replaceAll("+", " ")]);
  }
  return output;
}
