/**
 * The fast URL parser against whatwg-url's state machine, run in Node: whenever it takes an
 * input, its record must be the one the URL Standard's parser makes, property for property.
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import type { URLRecord } from "./url.ts";
import { parseSimpleURL, parseSimpleUrlencoded, serializeSimpleURL } from "./url-fast.ts";

const require = createRequire(import.meta.url);
const usm = require("whatwg-url/lib/url-state-machine.js") as {
  basicURLParse(input: string, options?: { baseURL?: URLRecord | null }): URLRecord | null;
  serializeURL(url: URLRecord): string;
};
const { parseUrlencodedString } = require("whatwg-url/lib/urlencoded.js") as { parseUrlencodedString(input: string): [string, string][] };

/** Shapes the fast parser takes. */
const SIMPLE = [
  "http://127.0.0.1:8787/hello/x?y=1",
  "https://example.com",
  "https://example.com/",
  "HTTP://EXAMPLE.COM/A/B",
  "hTtPs://Api.Example.COM:8443/v1/users/42?fields=a,b&limit=10#top",
  "http://localhost:80/",
  "https://localhost:443/x",
  "http://localhost:443/",
  "https://localhost:80/",
  "http://h:0/",
  "http://h:00080/",
  "http://h:65535/",
  "http://h?q",
  "http://h#f",
  "http://h/?",
  "http://h/#",
  "http://h//a///b/",
  "http://h/a/b/",
  "http://h/.well-known/x..y/.z/a.",
  "http://h/%2e%2e%2e/%2ex/x%2e/%zz/%",
  "http://h/a|b[c]@d:e;f=g&h$i!j*k(l)m+n,o~p_q-r'",
  "http://h/?a=?&b=`{}`|^[]@:/",
  "http://h/#a#b?c'{}|^[]@:/%zz",
  "http://a-b.c-d.e/",
  "http://-.-/",
  "http://1.2.3.a/",
  "http://0.0.0.0/",
  "http://255.255.255.255:1/",
  "http://10.0.0.1?x",
  "http://ab--cd.example/",
];

/** Near misses: each needs something only the state machine does. */
const NEAR_MISSES = [
  "ftp://h/",
  "ws://h/",
  "http:/h/",
  "http:h/",
  "http:///h/",
  "http:\\\\h\\",
  "http://h\\x",
  " http://h/",
  "http://h/ ",
  "http://h/\t",
  "http://h/a\nb",
  "http://u@h/",
  "http://u:p@h/",
  "http://@h/",
  "http://h:/",
  "http://h:99999/",
  "http://h:123456789/",
  "http://h:8a/",
  "http://[::1]/",
  "http://h./",
  "http://.h/",
  "http://a..b/",
  "http:///",
  "http://xn--bcher-kva.de/",
  "http://XN--BCHER-KVA.de/",
  "http://a.xn--nxa/",
  "http://bücher.de/",
  "http://h_h/",
  "http://h%41/",
  "http://0x7f.1/",
  "http://1.2.3/",
  "http://127.0.0.01/",
  "http://127.1/",
  "http://256.0.0.1/",
  "http://1.2.3.4.5/",
  "http://example.123/",
  "http://example.0x1/",
  "http://a.1b/", // not an IPv4 number, but only the canonical form is taken
  "http://h/./a",
  "http://h/a/.",
  "http://h/a/..",
  "http://h/../a",
  "http://h/%2e/a",
  "http://h/%2E%2e/a",
  "http://h/.%2E",
  "http://h/a b",
  "http://h/a^b",
  "http://h/a`b",
  "http://h/{x}",
  'http://h/"',
  "http://h/<>",
  "http://h/ü",
  "http://h/?a b",
  "http://h/?'",
  'http://h/?"',
  "http://h/?<",
  "http://h/#a b",
  'http://h/#"',
  "http://h/#`",
  "http://h/#é",
  "http://h/\uD800",
];

describe("parseSimpleURL", () => {
  it.each(SIMPLE)("takes %s, with the state machine's record", (input) => {
    const record = parseSimpleURL(input);
    expect(record).not.toBeNull();
    expect(record).toStrictEqual(usm.basicURLParse(input));
    expect(serializeSimpleURL(record!)).toBe(new URL(input).href);
  });

  it.each(NEAR_MISSES)("leaves %s to the state machine", (input) => {
    expect(parseSimpleURL(input)).toBeNull();
  });

  it("agrees with the state machine on random inputs, and takes a fair share of them", () => {
    const random = mulberry32(0x5eed);
    let taken = 0;
    let left = 0;
    const N = 20_000;
    for (let i = 0; i < N; i++) {
      const input = randomURL(random);
      const record = parseSimpleURL(input);
      const expected = usm.basicURLParse(input);
      if (record === null) {
        left++;
      } else {
        taken++;
        expect(record, input).toStrictEqual(expected);
      }
      if (expected !== null) expect(serializeSimpleURL(expected) ?? usm.serializeURL(expected), input).toBe(usm.serializeURL(expected));
    }
    expect(taken).toBeGreaterThan(N / 5);
    expect(left).toBeGreaterThan(N / 5);
  });

  it("ignores the base for input of its shape, as the state machine does", () => {
    for (const base of ["http://other/x/y?z#w", "https://b/", "HTTP://h:80/", "file:///x", "mailto:m"]) {
      for (const input of SIMPLE) {
        expect(usm.basicURLParse(input, { baseURL: usm.basicURLParse(base) })).toStrictEqual(parseSimpleURL(input));
      }
    }
  });
});

describe("serializeSimpleURL", () => {
  it.each([
    "http://u:p@h/",
    "http://[::1]:8080/",
    "ws://h/",
    "mailto:x",
    "file:///C:/x",
    "http://192.168.0.1:80/?#",
    "https://0x7f.1/a",
    "http://a.b/%7E?%20#%20",
  ])("serializes %s as whatwg-url does, or declines", (input) => {
    const record = usm.basicURLParse(input)!;
    const simple = serializeSimpleURL(record);
    if (simple !== null) expect(simple).toBe(usm.serializeURL(record));
    expect(simple === null).toBe(/^(?:ws|mailto|file):|@|\[/.test(input));
  });
});

describe("parseSimpleUrlencoded", () => {
  it.each(["", "y=1", "a=1&b=2&a=3", "&&a&=b&c=&=&+=+&a+b=c+d", "k=v=w&é=ü&\u{1F600}", "?a=1"])("splits %j as the urlencoded parser does", (input) => {
    expect(parseSimpleUrlencoded(input)).toStrictEqual(parseUrlencodedString(input));
  });

  it.each(["a=%20", "a%3D=b", "a=\uD800"])("leaves %j to the urlencoded parser", (input) => {
    expect(parseSimpleUrlencoded(input)).toBeNull();
  });

  it("agrees with the urlencoded parser on random inputs", () => {
    const random = mulberry32(42);
    const pieces = ["a", "b", "=", "&", "+", "%", "%20", "é", "\uD800", " ", "\u{1F600}", "?"];
    for (let i = 0; i < 5000; i++) {
      let input = "";
      for (let n = Math.floor(random() * 12); n > 0; n--) input += pieces[Math.floor(random() * pieces.length)];
      const simple = parseSimpleUrlencoded(input);
      if (simple !== null) expect(simple, input).toStrictEqual(parseUrlencodedString(input));
    }
  });
});

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * http(s) URLs built from characters each component keeps as they are, with now and then
 * one the parser treats specially: so that both outcomes, and every near miss, come up.
 */
function randomURL(random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const maybe = (p: number, s: () => string) => (random() < p ? s() : "");
  const repeat = (max: number, piece: () => string) => {
    let out = "";
    for (let n = Math.floor(random() * (max + 1)); n > 0; n--) out += piece();
    return out;
  };
  const SPECIAL = ["%2e", "%2E", "%zz", "/", "?", "#", "'", '"', "`", "{", "}", "^", "\\", " ", "\t", "\n", "é", "\uD800", "<", ">", "[", "]", "@", ":"];
  const noisy = (clean: string) => () => (random() < 0.03 ? pick(SPECIAL) : clean[Math.floor(random() * clean.length)]!);
  const ipv4Part = () => pick([String(Math.floor(random() * 300)), "0", "00", "0x7f", "0X", "08", "255", "256", "1"]);
  const label = () => (random() < 0.1 ? ipv4Part() : repeat(6, noisy("abcxnzABZ0189-")) || "a");
  const host =
    random() < 0.3
      ? Array.from({ length: pick([4, 4, 4, 3, 5]) }, ipv4Part).join(".")
      : repeat(3, () => label() + maybe(0.02, () => ".") + ".") + label() + maybe(0.03, () => ".");
  const port = maybe(0.4, () => ":" + repeat(pick([4, 6]), () => pick(["0", "8", "1", "4", "3", "9", "5", "6"])));
  const PATH_CHARS = "azAZ09-._~!$&'()*+,;=:@%|[]";
  const segment = () => (random() < 0.1 ? pick([".", "..", "%2e", ".%2E", "%2e%2e", ".well-known", ""]) : repeat(5, noisy(PATH_CHARS)));
  const path = maybe(0.85, () => repeat(4, () => "/" + segment()));
  const query = maybe(0.4, () => "?" + repeat(8, noisy(PATH_CHARS + "?/`{}^")));
  const fragment = maybe(0.2, () => "#" + repeat(5, noisy(PATH_CHARS + "?/#'{}^")));
  const scheme = random() < 0.05 ? pick(["ws", "ftp", "file", "httpx"]) : pick(["http", "https", "HTTP", "hTtPs"]);
  const slashes = random() < 0.05 ? pick([":/", ":///", ":\\\\", ":"]) : "://";
  return maybe(0.01, () => " ") + scheme + slashes + maybe(0.02, () => "u:p@") + host + port + path + query + fragment;
}
