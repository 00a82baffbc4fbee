/**
 * url.ts in an isolate, bundled and minified as the globals script is: which inputs the
 * fast parser serves (urlStats), through every way in, and that parseURL (Request,
 * Response.redirect) does not load whatwg-url for them.
 */
import { fileURLToPath } from "node:url";
import ivm from "isolated-vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleGlobals } from "../globals-script.ts";

const ENTRY = `
import { installURL, parseURL, parseUrlencoded, serializeURL, urlStats } from "./url.ts";
import { encodeUtf8 } from "./utf8.ts";
installURL(globalThis, () => "");
globalThis.counts = () => ({ ...urlStats });
globalThis.viaParseURL = (input) => { const record = parseURL(input); return record === null ? null : serializeURL(record); };
globalThis.viaParseUrlencoded = (body) => parseUrlencoded(encodeUtf8(body));
export default {};
`;

describe("URL parsing in the isolate", () => {
  let isolate: ivm.Isolate;
  let context: ivm.Context;
  beforeAll(async () => {
    const code = await bundleGlobals({ contents: ENTRY, resolveDir: fileURLToPath(new URL(".", import.meta.url)) });
    isolate = new ivm.Isolate({ memoryLimit: 32 });
    context = await isolate.createContext();
    await context.eval(code);
  });
  afterAll(() => isolate.dispose());

  /** Runs `code` and returns how many parses each parser did meanwhile, and its result. */
  const counted = (code: string): { simple: number; full: number; result: unknown } =>
    context.evalSync(
      `(() => { const a = counts(); const result = (() => { ${code} })(); const b = counts();
        return { simple: b.simple - a.simple, full: b.full - a.full, result }; })()`,
      { copy: true },
    ) as { simple: number; full: number; result: unknown };

  it("parses simple URLs (Request, Response.redirect) and form bodies without loading whatwg-url", () => {
    expect(
      counted(`return [viaParseURL("HTTP://Example.COM:80/a?b#c"), viaParseURL("https://10.0.0.1:8443"),
        viaParseUrlencoded("a=1&b=x+y&&c"), counts().whatwgLoaded];`),
    ).toEqual({
      simple: 2,
      full: 0,
      result: ["http://example.com/a?b#c", "https://10.0.0.1:8443/", [["a", "1"], ["b", "x y"], ["c", ""]], false],
    });
    // Others load it, and still parse (or fail) as before.
    expect(counted(`return [viaParseURL("http://0x7f.1/"), viaParseURL("http://h:99999/"), viaParseUrlencoded("a=%20"), counts().whatwgLoaded];`)).toEqual({
      simple: 0,
      full: 2,
      result: ["http://127.0.0.1/", null, [["a", " "]], true],
    });
  });

  /** What Node's URL makes of the same code. */
  const inNode = (code: string): unknown => new Function(code)();

  it.each([
    ["new URL(x)", 1, `return new URL("http://127.0.0.1:8787/hello/x?y=1").searchParams.get("y");`],
    ["new URL(x, base)", 2, `return new URL("https://a.example/p", "http://b/").href;`],
    ["URL.parse", 1, `return URL.parse("http://a/b").pathname;`],
    ["URL.canParse", 1, `return URL.canParse("http://a:65535/");`],
    ["the href setter", 2, `const u = new URL("http://a/"); u.href = "https://b/c?d"; return u.search;`],
  ])("takes the fast path for %s", (_name, simple, code) => {
    expect(counted(code)).toEqual({ simple, full: 0, result: inNode(code) });
  });

  it("leaves the other setters to whatwg-url", () => {
    const code = `const u = new URL("http://a/p?q#h");
      u.pathname = "/x y"; u.search = "a b"; u.hash = "c d"; u.host = "B:81"; u.port = "80"; u.protocol = "https";
      u.searchParams.append("k", "v w");
      return u.href;`;
    expect(counted(code)).toEqual({ simple: 1, full: 0, result: inNode(code) });
  });

  it.each([
    "http://h:80/./a",
    "http://h/%2e%2E/",
    "http://h/a b",
    "http://h/?q='",
    'http://h/#"',
    "http://0x7f.1/",
    "http://1.2.3/",
    "http://127.0.0.01/",
    "http://h./",
    "http://xn--bcher-kva.de/",
    "http://h:/",
    "http://h:99999999/",
    "http://u:p@h/",
    "http://[::1]/",
    "http:\\\\h\\",
    " http://h/",
    "ws://h/",
    "/relative",
  ])("leaves %s to whatwg-url", (input) => {
    const { simple, full } = counted(`try { new URL(${JSON.stringify(input)}, "file:///base"); } catch {}`);
    // The base ("file:") is not of the simple shape either.
    expect({ simple, full }).toEqual({ simple: 0, full: 2 });
  });
});
