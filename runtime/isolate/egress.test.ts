import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAllowList, createEgressFetch, egressTarget, type EgressRequestWire } from "./egress.ts";
import { createTestIsolate, wireRequest } from "./globals/_test-isolate.ts";

/** Only ever a loopback server on an ephemeral port. */
let server: http.Server;
let origin: string;
let target: string;
const received: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
      const url = new URL(req.url!, "http://x");
      const redirect = url.searchParams.get("status");
      switch (url.pathname) {
        case "/echo":
          res.setHeader("connection", "x-hop, keep-alive");
          res.setHeader("x-hop", "dropped");
          res.setHeader("set-cookie", ["a=1; Path=/", "b=2"]);
          res.setHeader("x-echo", "yes");
          res.end(JSON.stringify({ method: req.method, body: Buffer.concat(chunks).toString() }));
          return;
        case "/redirect":
          res.writeHead(Number(redirect ?? 302), { location: url.searchParams.get("to") ?? "/echo" });
          res.end("moved");
          return;
        case "/loop":
          res.writeHead(302, { location: "/loop" });
          res.end();
          return;
        case "/gzip":
          res.writeHead(200, { "content-encoding": "gzip", "content-type": "text/plain" });
          res.end(zlib.gzipSync("decoded text"));
          return;
        case "/big":
          res.writeHead(200, url.searchParams.has("chunked") ? {} : { "content-length": 4096 });
          res.write(Buffer.alloc(2048, 97));
          res.end(Buffer.alloc(2048, 98));
          return;
        case "/empty":
          res.writeHead(204);
          res.end();
          return;
        default:
          res.writeHead(404);
          res.end("not found");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  target = `127.0.0.1:${port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const req = (path: string, init: Partial<EgressRequestWire> = {}): EgressRequestWire => ({
  method: "GET",
  url: path.startsWith("/") ? origin + path : path,
  headers: [],
  body: null,
  ...init,
});
const text = (bytes: Uint8Array | null) => Buffer.from(bytes ?? []).toString();

describe("egress allow-list", () => {
  it.each([
    ["https://API.Example.com/x", "api.example.com:443"],
    ["http://api.example.com/x", "api.example.com:80"],
    ["https://api.example.com:8443/", "api.example.com:8443"],
    ["http://[::1]:8080/", "[::1]:8080"],
    ["https://bücher.de/", "xn--bcher-kva.de:443"],
    ["https://example.com./", "example.com:443"],
    ["ftp://example.com/", null],
  ])("target of %s is %s", (url, expected) => {
    expect(egressTarget(new URL(url))).toBe(expected);
  });

  it("matches host:port exactly and *.domain:port on subdomains only", () => {
    const allowed = createAllowList(["api.example.com:443", "*.Internal.example:8080", "noport.example"]);
    expect(allowed("api.example.com:443")).toBe(true);
    expect(allowed("api.example.com:80")).toBe(false);
    expect(allowed("a.internal.example:8080")).toBe(true);
    expect(allowed("a.b.internal.example:8080")).toBe(true);
    expect(allowed("internal.example:8080")).toBe(false);
    expect(allowed("evilinternal.example:8080")).toBe(false);
    expect(allowed("a.internal.example:443")).toBe(false);
    expect(allowed("noport.example:443")).toBe(false);
  });

  it("refuses a target off the list, saying which entry to add", async () => {
    const fetch = createEgressFetch({ service: "hello", allow: [] });
    await expect(fetch(req("https://api.example.com/v1"))).rejects.toThrow(
      'fetch to api.example.com:443 is not allowed for function "hello": add "api.example.com:443" to spec.egress in its edgefn.yaml',
    );
    await expect(fetch(req("file:///etc/passwd"))).rejects.toThrow("only http: and https: URLs can be fetched");
  });
});

describe("egress fetch", () => {
  it("sends method, headers and body; strips hop-by-hop and computed headers both ways", async () => {
    const fetch = createEgressFetch({ service: "hello", allow: [target] });
    received.length = 0;
    const response = await fetch(req("/echo", {
      method: "POST",
      headers: [["x-key", "k"], ["connection", "x-private"], ["x-private", "secret"], ["host", "spoofed.example"], ["content-length", "999"], ["keep-alive", "timeout=5"]],
      body: new TextEncoder().encode("payload"),
    }));
    expect(response.status).toBe(200);
    expect(JSON.parse(text(response.body))).toEqual({ method: "POST", body: "payload" });
    expect(response.url).toBe(`${origin}/echo`);
    expect(response.redirected).toBe(false);
    const sent = received[0]!.headers;
    expect(sent["x-key"]).toBe("k");
    expect(sent["x-private"]).toBeUndefined();
    expect(sent.host).toBe(target);
    expect(sent["content-length"]).toBe("7");
    const names = response.headers.map(([n]) => n);
    expect(names).toContain("x-echo");
    expect(names).not.toContain("connection");
    expect(names).not.toContain("keep-alive");
    expect(names).not.toContain("x-hop");
    expect(response.headers.filter(([n]) => n === "set-cookie")).toEqual([["set-cookie", "a=1; Path=/"], ["set-cookie", "b=2"]]);
  });

  it("follows redirects, turning POST into GET on 302/303 and keeping it on 307", async () => {
    const fetch = createEgressFetch({ service: "hello", allow: [target] });
    const body = new TextEncoder().encode("data");
    const after303 = await fetch(req("/redirect?status=303", { method: "POST", body, headers: [["content-type", "text/plain"]] }));
    expect(JSON.parse(text(after303.body))).toEqual({ method: "GET", body: "" });
    expect([after303.url, after303.redirected]).toEqual([`${origin}/echo`, true]);
    const after307 = await fetch(req("/redirect?status=307", { method: "POST", body }));
    expect(JSON.parse(text(after307.body))).toEqual({ method: "POST", body: "data" });
  });

  it("honours redirect: manual and redirect: error", async () => {
    const fetch = createEgressFetch({ service: "hello", allow: [target] });
    const manual = await fetch(req("/redirect", { redirect: "manual" }));
    expect(manual.status).toBe(302);
    expect(manual.headers).toContainEqual(["location", "/echo"]);
    expect(text(manual.body)).toBe("moved");
    await expect(fetch(req("/redirect", { redirect: "error" }))).rejects.toThrow(/redirect mode is "error"/);
  });

  it("re-checks each redirect hop against the allow-list", async () => {
    const fetch = createEgressFetch({ service: "hello", allow: [target] });
    const to = encodeURIComponent("https://elsewhere.example/steal");
    await expect(fetch(req(`/redirect?to=${to}`))).rejects.toThrow(
      `fetch to ${origin}/redirect?to=${to} was redirected to elsewhere.example:443 (https://elsewhere.example/steal), which is not allowed for function "hello": add "elsewhere.example:443" to spec.egress in its edgefn.yaml`,
    );
  });

  it("gives up after 20 redirects", async () => {
    const fetch = createEgressFetch({ service: "hello", allow: [target] });
    await expect(fetch(req("/loop"))).rejects.toThrow(/redirected more than 20 times/);
  });

  it("returns decoded bodies without Content-Encoding", async () => {
    const fetch = createEgressFetch({ service: "hello", allow: [target] });
    const response = await fetch(req("/gzip"));
    expect(text(response.body)).toBe("decoded text");
    expect(response.headers.map(([n]) => n)).not.toContain("content-encoding");
  });

  it("caps the response body, declared or not", async () => {
    const fetch = createEgressFetch({ service: "hello", allow: [target], maxBodyBytes: 1024 });
    await expect(fetch(req("/big"))).rejects.toThrow(/larger than the egress limit of 1 KiB/);
    await expect(fetch(req("/big?chunked"))).rejects.toThrow(/larger than the egress limit of 1 KiB/);
    const roomy = createEgressFetch({ service: "hello", allow: [target], maxBodyBytes: 4096 });
    expect((await roomy(req("/big"))).body!.byteLength).toBe(4096);
  });

  it("gives null bodies for 204 and HEAD", async () => {
    const fetch = createEgressFetch({ service: "hello", allow: [target] });
    expect((await fetch(req("/empty"))).body).toBeNull();
    expect((await fetch(req("/echo", { method: "HEAD" }))).body).toBeNull();
  });

  it("says why a connection failed", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const fetch = createEgressFetch({ service: "hello", allow: [`127.0.0.1:${port}`] });
    await expect(fetch(req(`http://127.0.0.1:${port}/`))).rejects.toThrow(`fetch to http://127.0.0.1:${port}/ failed: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it("serves fetch() inside an isolate end to end", async () => {
    const egress = createEgressFetch({ service: "hello", allow: [target] });
    const t = await createTestIsolate({ fetch: (request) => egress(request) });
    try {
      await t.load(`export default { async fetch(request) {
        const target = new URL(request.url).searchParams.get("target");
        const r = await fetch(target + "/redirect?status=301", { method: "PUT", body: "x", headers: { "x-from": "isolate" } });
        const refused = await fetch("https://api.example.com/").then(() => "allowed", (e) => e.name + ": " + e.message);
        return Response.json({ status: r.status, url: r.url, redirected: r.redirected, body: await r.json(), refused });
      } };`);
      const response = await t.request(wireRequest(`http://fn/?target=${encodeURIComponent(origin)}`));
      expect(JSON.parse(response.text)).toEqual({
        status: 200,
        url: `${origin}/echo`,
        redirected: true,
        body: { method: "PUT", body: "x" },
        refused: 'TypeError: fetch to api.example.com:443 is not allowed for function "hello": add "api.example.com:443" to spec.egress in its edgefn.yaml',
      });
    } finally {
      t.dispose();
    }
  });
});
