/**
 * Conformance: each snippet runs in Node (its own URL, Headers, Request, Response, FormData,
 * Blob, streams) and inside an isolate with the globals script; the results must match.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestIsolate, type TestIsolate } from "./_test-isolate.ts";

/** Helpers both sides get: errors reduce to their class name, messages differ by design. */
const PRELUDE = `
const E = (f) => { try { return f(); } catch (e) { return { error: e.constructor.name }; } };
const EA = async (f) => { try { return await f(); } catch (e) { return { error: e.constructor.name }; } };
const url = (u) => ({ href: u.href, origin: u.origin, protocol: u.protocol, username: u.username,
  password: u.password, host: u.host, hostname: u.hostname, port: u.port, pathname: u.pathname,
  search: u.search, hash: u.hash, searchParams: [...u.searchParams], json: u.toJSON(), string: String(u) });
const entries = (x) => [...x].map(([k, v]) => [k, typeof v === "string" ? v : { name: v.name, type: v.type, size: v.size }]);
`;

const AsyncFunction = (async () => {}).constructor as new (body: string) => () => Promise<unknown>;

async function inNode(code: string): Promise<unknown> {
  return JSON.parse(JSON.stringify(await new AsyncFunction(PRELUDE + code)()));
}

const URLS: [string, string?][] = [
  ["https://example.com/a/b/../c?x=1#y"],
  ["HTTP://EXAMPLE.COM:80/%7Efoo/./bar"],
  ["https://a:443/"],
  ["ws://a:80/"],
  ["http://a:8080"],
  ["../x", "http://a/b/c/d"],
  ["?q", "http://a/b"],
  ["#h", "http://a/b?c"],
  ["//other/x", "https://a/"],
  ["/abs", "http://a/b/c"],
  ["", "http://a/b?c#d"],
  ["http://[::1]:8080/"],
  ["http://[2001:DB8:0:0:0:0:0:1]/"],
  ["http://[::ffff:192.168.0.1]/"],
  ["http://[1:2:3:4:5:6:7:8]/"],
  ["http://[::1/"],
  ["http://[g::1]/"],
  ["http://0x7f.1/"],
  ["http://127.1/"],
  ["http://192.168.0.257/"],
  ["http://1.2.3.4.5/"],
  ["http://bücher.de/"],
  ["http://xn--bcher-kva.de/"],
  ["http://Ｅｘａｍｐｌｅ.com/"],
  ["http://faß.de/"],
  ["http://☃.net/"],
  ["http://münchen.DE/"],
  ["http://a.b..c/"],
  ["http://example.com./"],
  ["http://ex%41mple.com/"],
  ["http://a/p ath?q=a b&c=é#f g"],
  ["http://a/ü/%zz"],
  ["http://user:pa ss@a/"],
  ["http://@a/"],
  ["http://a/?q='\"<>`{}"],
  ["http://a/#'\"<>`{}"],
  ["http://a/\u{1F600}?\u{1F600}#\u{1F600}"],
  ["http://a/\uD800"],
  ["file:///C:/x/../y"],
  ["file://host/share/x"],
  ["mailto:x@y.z"],
  ["data:text/plain,hi there"],
  ["javascript:alert(1)"],
  ["foo://bar/baz?q#f"],
  ["foo:/p/./q"],
  ["blob:https://a.com/uuid"],
  ["not a url"],
  ["http://"],
  ["https://a b/"],
  ["http://a:99999/"],
  ["http:\\\\a\\b\\c"],
  ["ht\ntp://a/\tb"],
  ["  http://a/  "],
  ["http://a/b?x=1", "not a base"],
  ["http://xn--a.com/"],
  ["http://XN--BCHER-KVA.de/"],
  ["http://%zz/"],
  ["http://a%2Fb/"],
  ["http://\u00AD.com/"],
  ["http://a\u200Db.com/"],
  ["http://\u0661.com/"],
  ["http://%30%78%37%66.1/"],
  ["http://[::1.2.3.4]/"],
  ["http://münchen\u3002de/"],
  ["http://a\uFF0Eb/"],
  ["http://é.xn--nxa/"],
  ["sc://ñ/"],
  ["non-special://a b/"],
  ...fastPathURLs(),
];

/**
 * Inputs around the shape url-fast.ts parses (see url-fast.test.ts), which the fast parser
 * takes or leaves: one component at a time varied from a common request URL, then some
 * combinations that decide the port and host.
 */
function fastPathURLs(): [string, string?][] {
  const base = { scheme: "http", host: "127.0.0.1", port: ":8787", path: "/hello/x", query: "?y=1", fragment: "" };
  const variants: { [K in keyof typeof base]: string[] } = {
    scheme: ["https", "HTTP", "hTtPs", "HTTPS", "ws", "ftp", "httpx"],
    host: [
      "example.com", "EXAMPLE.COM", "Api.Example.Com", "localhost", "a-b.c-d", "-", "a.b.c.d.e.f", "ab--cd.example", "1.2.3.a",
      "0.0.0.0", "255.255.255.255", "10.0.0.1", "0x7f.1", "0x7F.0.0.1", "1.2.3", "127.1", "127.0.0.01", "0127.0.0.1", "256.0.0.1",
      "1.2.3.4.5", "1.2.3.4.", "example.com.", ".example.com", "a..b", "example.123", "example.0x1", "a.1b", "09.1",
      "xn--bcher-kva.de", "XN--BCHER-KVA.DE", "a.xn--nxa", "xn--a.com", "bücher.de", "EXAMPLE.ß", "a_b", "a%41b", "[::1]", "[::ffff:1.2.3.4]", "",
    ],
    port: ["", ":80", ":443", ":0", ":65535", ":65536", ":00080", ":080", ":123456789012", ":", ":8a", ":-1", ": 80"],
    path: [
      "", "/", "//", "/a//b", "/a/b/", "/./a", "/a/.", "/a/./b", "/a/..", "/../a", "/%2e/a", "/%2E%2e/a", "/.%2e/a", "/a/%2e%2E",
      "/.well-known/x", "/a..b/.c/d.", "/%2e%2e%2e", "/%zz/%", "/a b", "/a^b", "/a`b", "/{a}", '/a"b', "/<a>", "/ü", "/a\\b",
      "/a|b[c]@d:e;f=g&h$i!j*k(l)m+n,o~p_q-r'", "/\tx", "/x\n",
    ],
    query: [
      "", "?", "??", "?y=1&y=2&z", "?a=?/:@", "?a b", "?a+b=c+d", "?q='x'", '?q="x"', "?<>", "?x=`{}`|^[]", "?%20=%zz", "?é=ü",
      "?a\\b", "?&&=&",
    ],
    fragment: ["#", "#f", "##", "#a?b/c", '#"q"', "#a b", "#`x`", "#<>", "#{}|^[]'", "#é", "#%zz"],
  };
  const compose = (parts: typeof base) => `${parts.scheme}://${parts.host}${parts.port}${parts.path}${parts.query}${parts.fragment}`;
  const inputs = [compose(base)];
  for (const key of Object.keys(variants) as (keyof typeof base)[]) {
    for (const value of variants[key]) inputs.push(compose({ ...base, [key]: value }));
  }
  for (const scheme of ["http", "https", "HTTPS"]) {
    for (const port of [":80", ":443", ":8080", ""]) {
      for (const host of ["h", "H.example", "10.1.2.3"]) inputs.push(`${scheme}://${host}${port}`);
    }
  }
  inputs.push(
    " http://h/", "http://h/ ", "\thttp://h/", "ht\ntp://h/", "http:/h/", "http:h/", "http:///h/", "http:\\\\h\\", "http://h\\x",
    "http://u@h/", "http://u:p@h/", "http://@h/", "http://:p@h/", "http://h:/", "http://h@:80/",
  );
  return [
    ...inputs.map((input): [string] => [input]),
    // A base does not change how an absolute URL parses.
    ...inputs.slice(0, 40).map((input): [string, string] => [input, "https://base.example/dir/file?q#f"]),
    ["//h:8080/p?q", "http://b/"],
    ["/p?q#f", "http://127.0.0.1:8787/x"],
    ["https://h/p", "file:///x"],
  ];
}

const CASES: [name: string, code: string][] = [
  ["URL parsing", `return ${JSON.stringify(URLS)}.map(([i, b]) => E(() => url(b === null ? new URL(i) : new URL(i, b))));`],
  [
    "URL parsing by canParse, Request and Response.redirect",
    `return ${JSON.stringify(fastPathURLs().filter(([, b]) => b === undefined))}.map(([i]) =>
       [URL.canParse(i), E(() => new Request(i).url), E(() => Response.redirect(i).headers.get("location"))]);`,
  ],
  [
    "URL setters",
    `const u = new URL("http://a.com/p?q#h");
     const out = [];
     u.search = "?x=é y"; out.push(u.href);
     u.pathname = "a b/ü"; out.push(u.href);
     u.host = "new.example:81"; out.push(u.href);
     u.port = "80"; out.push(u.href);
     u.hostname = "bücher.de"; out.push(u.href);
     u.hash = "frag ment"; out.push(u.href);
     u.username = "us er"; u.password = "p@ss"; out.push(u.href);
     u.protocol = "https"; out.push(u.href);
     u.protocol = "ftp:"; out.push(u.href);
     u.href = "http://other/"; out.push(u.href);
     out.push(E(() => { u.href = "nope"; }));
     out.push(URL.canParse("x", "http://a/"), URL.canParse("x"), String(URL.parse("nope")), URL.parse("/p", "http://z/").href);
     out.push(JSON.stringify(new URL("http://a/")), String(new URL("http://a/b")));
     return out;`,
  ],
  [
    "URLSearchParams",
    `const p = new URLSearchParams("?a=1&b=2&a=3&c=%20x+y&d=%C3%A9&e");
     const out = [p.getAll("a"), p.get("c"), p.get("d"), p.get("e"), p.get("z"), p.has("a", "3"), p.size, p.toString()];
     p.append("f", "sp ace+plus&amp=é\u{1F600}"); p.delete("a", "1"); p.set("b", "9"); p.sort();
     out.push([...p], p.toString());
     out.push(new URLSearchParams({ x: "1", y: "ü" }).toString(), new URLSearchParams([["k", "v"], ["k", "w"]]).toString());
     out.push(E(() => new URLSearchParams([["a"]])));
     const u = new URL("http://a/?x=1"); u.searchParams.append("y", "a b"); out.push(u.href);
     u.search = "?z=2"; out.push(u.searchParams.get("z"));
     const keys = []; new URLSearchParams("a=1&b=2").forEach((v, k) => keys.push(k + v)); out.push(keys);
     return out;`,
  ],
  [
    "Headers: normalization and combination",
    `const h = new Headers({ "Content-Type": " text/plain \\t", "X-Multi": "a" });
     h.append("x-multi", "b"); h.append("Set-Cookie", "a=1; Path=/"); h.append("set-cookie", "b=2");
     h.append("Accept", "*/*"); h.set("X-Set", "one"); h.set("x-set", "two");
     const out = [[...h], h.get("x-multi"), h.get("SET-COOKIE"), h.getSetCookie(), h.has("CONTENT-TYPE"), h.get("missing")];
     h.delete("X-Multi"); out.push([...h.keys()], [...h.values()]);
     const seen = []; h.forEach((v, k, o) => seen.push([k, v, o === h])); out.push(seen);
     out.push(new Headers([["a", "1"], ["A", "2"], ["b", "3"]]).get("a"));
     out.push([...new Headers(new Headers({ z: "1", a: "2" }))]);
     out.push(Object.prototype.toString.call(h), Object.prototype.toString.call(h.entries()));
     return out;`,
  ],
  [
    "Headers: invalid names and values",
    `return [
       E(() => new Headers({ "bad name": "x" })),
       E(() => new Headers({ "x": "a\\nb" })),
       E(() => new Headers({ "x": "a\\rb" })),
       E(() => new Headers({ "x": "a\\0b" })),
       E(() => new Headers({ "x": "\\u20ac" })),
       E(() => new Headers({ "x": "\\u00e9" }).get("x")),
       E(() => new Headers([["a", "b", "c"]])),
       E(() => new Headers("a")),
       E(() => new Headers(null)),
       E(() => new Headers().append("ü", "x")),
       E(() => new Headers({ "x": " \\t " }).get("x")),
       E(() => new Headers({ "x": "a, b" }).get("X")),
       E(() => new Headers({ "x": 12 }).get("x")),
     ];`,
  ],
  [
    "Request: construction and defaults",
    `const r = new Request("https://example.com/a?b#c", { method: "post", body: "hi", headers: { "X-A": "1" } });
     const out = [r.method, r.url, [...r.headers], r.redirect, r.cache, r.credentials, r.mode, r.referrer,
       r.referrerPolicy, r.destination, r.integrity, r.keepalive, r.bodyUsed, r.body !== null, typeof r.signal.aborted,
       r.duplex, Object.prototype.toString.call(r)];
     out.push(await r.text(), r.bodyUsed, await EA(() => r.text()));
     out.push(new Request("http://a/", { method: "patch" }).method, new Request("http://a/", { method: "Delete" }).method);
     out.push(E(() => new Request("http://a/", { method: "GET", body: "x" })));
     out.push(E(() => new Request("http://a/", { method: "HEAD", body: "x" })));
     out.push(E(() => new Request("/relative")));
     out.push(E(() => new Request("http://u:p@a/")));
     out.push(E(() => new Request("http://a/", { method: "CONNECT" })));
     out.push(E(() => new Request("http://a/", { method: "bad method" })));
     out.push(E(() => new Request("http://a/", { redirect: "nope" })));
     out.push(new Request("http://a/", { redirect: "manual" }).redirect);
     out.push(new Request(new URL("http://a/x")).url);
     return out;`,
  ],
  [
    "Request: bodies, clone and re-wrapping",
    `const r = new Request("http://a/", { method: "PUT", body: new URLSearchParams({ a: "1 2", b: "é" }) });
     const out = [r.headers.get("content-type")];
     const c = r.clone();
     out.push(await r.text(), await c.text());
     const j = new Request("http://a/", { method: "POST", body: JSON.stringify({ x: [1, "y"] }) });
     out.push(await j.json());
     const src = new Request("http://a/src", { method: "POST", body: "moved", headers: { "x-h": "1" } });
     const dst = new Request(src, { headers: { "x-h": "2" } });
     out.push(src.bodyUsed, dst.bodyUsed, dst.url, dst.method, dst.headers.get("x-h"), await dst.text());
     out.push(E(() => new Request(src)));
     const b = new Request("http://a/", { method: "POST", body: new Uint8Array([1, 2, 3]) });
     out.push(b.headers.get("content-type"), [...new Uint8Array(await b.arrayBuffer())]);
     const bl = new Request("http://a/", { method: "POST", body: new Blob(["xyz"], { type: "text/x-custom" }) });
     const blob = await bl.blob();
     out.push(bl.headers.get("content-type"), blob.type, blob.size);
     const by = new Request("http://a/", { method: "POST", body: "\\u00e9" });
     out.push([...(await by.bytes())]);
     out.push(E(() => new Request("http://a/", { method: "POST", body: "x" }).clone().method));
     return out;`,
  ],
  [
    "Response: statuses, static constructors and errors",
    `const out = [];
     const r = new Response("body", { status: 201, statusText: "Created", headers: [["x-a", "1"]] });
     out.push(r.status, r.ok, r.statusText, r.type, r.url, r.redirected, [...r.headers], r.bodyUsed);
     const d = new Response();
     out.push(d.status, d.body, d.statusText, await d.text(), d.bodyUsed);
     out.push(new Response(null, { status: 204 }).status);
     out.push(E(() => new Response("x", { status: 204 })));
     out.push(E(() => new Response("x", { status: 304 })));
     out.push(E(() => new Response("x", { status: 600 })));
     out.push(E(() => new Response("x", { status: 199 })));
     out.push(E(() => new Response("x", { statusText: "bad\\n" })));
     const j = Response.json({ a: [1, 2], b: "é" }, { status: 202, headers: { "x-b": "2" } });
     out.push(j.status, [...j.headers], await j.json());
     out.push(E(() => Response.json(undefined)));
     out.push([...Response.json(1, { headers: { "content-type": "application/x-json" } }).headers]);
     const red = Response.redirect("http://a.com/x y", 301);
     out.push(red.status, red.headers.get("location"), red.body, E(() => red.headers.set("x", "y")));
     out.push(Response.redirect("http://a/").status, E(() => Response.redirect("http://a/", 200)), E(() => Response.redirect("/rel")));
     const e = Response.error();
     out.push(e.type, e.status, e.ok, e.statusText, e.body, E(() => e.headers.set("x", "1")));
     out.push(Object.prototype.toString.call(r));
     return out;`,
  ],
  [
    "Response: body reading",
    `const out = [];
     const r = new Response("hello \\u00e9\\u{1F600}");
     out.push(r.headers.get("content-type"), await r.text(), r.bodyUsed, await EA(() => r.text()), await EA(() => r.arrayBuffer()));
     out.push(E(() => r.clone()));
     const c1 = new Response("cloned"); const c2 = c1.clone();
     out.push(await c1.text(), await c2.text());
     out.push([...new Uint8Array(await new Response(new Uint8Array([0, 255])).arrayBuffer())]);
     out.push(await new Response(new DataView(new Uint8Array([104, 105]).buffer)).text());
     const ab = new Uint8Array([65, 66, 67]); const fromAb = new Response(ab.buffer); ab[0] = 90;
     out.push(await fromAb.text());
     out.push(await new Response("\\ufeffbom").text());
     out.push(await new Response(new Uint8Array([0xff, 0xc3, 0x28, 0xe2, 0x82])).text());
     out.push(await EA(() => new Response("{bad json").json()));
     const blob = await new Response("abc", { headers: { "content-type": "Text/Plain; Charset=UTF-8" } }).blob();
     out.push(blob.type, blob.size, await blob.text());
     out.push(await new Response(new Blob(["x"], { type: "image/png" })).headers.get("content-type"));
     out.push(await new Response({ toString() { return "obj"; } }).text());
     out.push(await new Response(12).text());
     return out;`,
  ],
  [
    "Response: streams",
    `const out = [];
     const enc = new TextEncoder();
     const s = new ReadableStream({ start(c) { c.enqueue(enc.encode("a")); c.enqueue(enc.encode("b")); c.close(); } });
     const r = new Response(s);
     out.push(r.headers.get("content-type"), r.body === s, await r.text(), r.bodyUsed);
     const body = new Response("streamed").body;
     const reader = body.getReader(); const chunks = [];
     for (;;) { const { done, value } = await reader.read(); if (done) break; chunks.push(...value); }
     out.push(new TextDecoder().decode(new Uint8Array(chunks)));
     const t = new Response("tee me"); const t2 = t.clone();
     const tr = t.body.getReader(); await tr.read();
     out.push(await t2.text(), t.bodyUsed, E(() => t.clone()));
     out.push(await EA(() => new Response(new ReadableStream({ start(c) { c.enqueue("str"); c.close(); } })).text()));
     const locked = new ReadableStream(); locked.getReader();
     out.push(E(() => new Response(locked)));
     const used = new Response("x"); await used.text();
     out.push(used.body === null, used.bodyUsed);
     const piped = new Response("pipe").body.pipeThrough(new TextDecoderStream());
     let text = ""; for await (const chunk of piped) text += chunk; out.push(text);
     const encs = new TextEncoderStream(); const w = encs.writable.getWriter();
     w.write("\\uD83D"); w.write("\\uDE00x"); w.close();
     out.push(await new Response(encs.readable).text());
     const ds = new TextDecoderStream(); const dw = ds.writable.getWriter();
     dw.write(new Uint8Array([0xf0, 0x9f])); dw.write(new Uint8Array([0x98, 0x80])); dw.close();
     let d = ""; for await (const chunk of ds.readable) d += chunk; out.push(d);
     out.push(typeof ByteLengthQueuingStrategy, new CountQueuingStrategy({ highWaterMark: 3 }).highWaterMark,
       new ByteLengthQueuingStrategy({ highWaterMark: 8 }).size(new Uint8Array(5)));
     for (const label of ["utf-16le", "windows-1252", "shift_jis"]) {
       const lds = new TextDecoderStream(label); const lw = lds.writable.getWriter();
       lw.write(new Uint8Array([0x41, 0x00, 0xe9])); lw.write(new Uint8Array([0x00, 0x82, 0xa0])); lw.close();
       let ls = ""; for await (const chunk of lds.readable) ls += chunk; out.push([lds.encoding, ls]);
     }
     out.push(E(() => new TextDecoderStream("no-such-encoding")));
     const byob = new Response("byob!").body.getReader({ mode: "byob" });
     const view = await byob.read(new Uint8Array(3)); out.push([...view.value]);
     return out;`,
  ],
  [
    "Blob and File",
    `const out = [];
     const b = new Blob(["ab", new Uint8Array([99]), new Blob(["d"]), new Uint16Array([0x6665]).buffer], { type: "Text/Plain" });
     out.push(b.size, b.type, await b.text(), Object.prototype.toString.call(b));
     out.push(await b.slice(1, 3).text(), await b.slice(-2).text(), b.slice(0, 1, "X/Y").type, b.slice(2, 1).size, await b.slice(undefined, -1).text());
     out.push(new Blob([], { type: "a/\\u00e9" }).type, new Blob().size, E(() => new Blob("abc")));
     out.push([...(await new Blob(["\\r\\n\\r"], { endings: "native" }).bytes())], [...new Uint8Array(await new Blob(["hi"]).arrayBuffer())]);
     const f = new File(["x", "y"], "name.txt", { type: "text/plain", lastModified: 42 });
     out.push(f.name, f.lastModified, f.size, f.type, f instanceof Blob, Object.prototype.toString.call(f), await f.text());
     out.push(E(() => new File(["x"])));
     const chunks = []; for await (const c of new Blob(["stream"]).stream()) chunks.push(...c);
     out.push(chunks);
     return out;`,
  ],
  [
    "FormData: entries",
    `const fd = new FormData();
     fd.append("a", "1"); fd.append("b", new Blob(["blob"], { type: "text/x" })); fd.append("c", new Blob(["named"]), "file.bin");
     fd.append("a", "2"); fd.append("d", new File(["f"], "orig.txt", { type: "text/plain" }), "renamed.txt");
     const out = [entries(fd), fd.get("a"), fd.getAll("a"), fd.has("c"), fd.get("zz")];
     fd.set("a", "3"); fd.delete("b"); out.push(entries(fd), [...fd.keys()]);
     out.push(E(() => fd.append("x", "y", "name")));
     out.push(fd.get("c") instanceof File, fd.get("d").name);
     const seen = []; fd.forEach((v, k) => seen.push(k)); out.push(seen);
     out.push(Object.prototype.toString.call(fd));
     return out;`,
  ],
  [
    "FormData: multipart round trip",
    `const fd = new FormData();
     fd.append("text", "hello\\nworld \\u00e9");
     fd.append("quote\\"name", "v");
     fd.append("file", new File(["file body \\u{1F600}"], "na\\"me.txt", { type: "text/plain" }));
     fd.append("bin", new Blob([new Uint8Array([0, 1, 2, 255])]));
     fd.append("empty", "");
     const r = new Response(fd);
     const ct = r.headers.get("content-type");
     const parsed = await r.formData();
     const out = [ct.startsWith("multipart/form-data; boundary="), entries(parsed)];
     out.push(await parsed.get("file").text(), [...(await parsed.get("bin").bytes())]);
     const req = new Request("http://a/", { method: "POST", body: fd });
     out.push(entries(await req.formData()));
     return out;`,
  ],
  [
    "FormData: parsing bodies",
    `const parse = (body, type) => EA(async () => entries(await new Response(body, { headers: { "content-type": type } }).formData()));
     const B = "----boundary1234567890boundary";
     const CRLF = "\\r\\n";
     const body = ["--" + B, 'Content-Disposition: form-data; name="field"', "", "value one", "--" + B,
       'Content-Disposition: form-data; name="up"; filename="a.txt"', "", "file text", "--" + B,
       'Content-Disposition: form-data; name="typed"; filename="b.json"', "Content-Type: application/json", "", "{}", "--" + B,
       'Content-Disposition: form-data; name="n%22q"', "", "esc", "--" + B + "--", ""].join(CRLF);
     return [
       await parse(body, "multipart/form-data; boundary=" + B),
       await parse(body, 'multipart/form-data; boundary="' + B + '"'),
       await parse("a=1&b=%C3%A9+x&c&=d&a=2", "application/x-www-form-urlencoded"),
       await parse("a=1", "application/x-www-form-urlencoded;charset=UTF-8"),
       await parse("a=1", "text/plain"),
       await parse(body, "multipart/form-data"),
       await parse("garbage", "multipart/form-data; boundary=" + B),
     ];`,
  ],
];

describe("conformance with Node", () => {
  let t: TestIsolate;
  beforeAll(async () => {
    t = await createTestIsolate();
  });
  afterAll(() => t.dispose());

  it.each(CASES)("%s", async (_name, code) => {
    const expected = await inNode(code);
    const actual = JSON.parse(JSON.stringify(await t.run(PRELUDE + code)));
    expect(actual).toEqual(expected);
  });
});
