/** A real Hono app, bundled as users' functions are, run through dispatch() unchanged. */
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestIsolate, wireRequest, type TestIsolate } from "./_test-isolate.ts";

const APP = `
import { Hono } from "hono";
import { cors } from "hono/cors";
import { stream } from "hono/streaming";
import { HTTPException } from "hono/http-exception";

const app = new Hono();
app.use("*", async (c, next) => {
  await next();
  c.res.headers.set("x-powered-by", "edgefn");
});
app.use("/api/*", cors({ origin: "https://site.example" }));

app.get("/", (c) => c.text("home"));
app.get("/users/:id", (c) =>
  c.json({ id: c.req.param("id"), q: c.req.query("q"), tags: c.req.queries("tag"), path: c.req.path }));
app.post("/api/echo", async (c) => {
  const body = await c.req.json();
  return c.json({ got: body, type: c.req.header("content-type") }, 201);
});
app.post("/form", async (c) => c.json(await c.req.parseBody()));
app.get("/headers", (c) => {
  c.header("x-custom", "yes");
  c.header("set-cookie", "a=1", { append: true });
  c.header("set-cookie", "b=2", { append: true });
  const names = [];
  c.req.raw.headers.forEach((_, name) => names.push(name));
  return c.text(names.join(","));
});
app.get("/env", (c) => c.json({ greeting: c.env.GREETING, site: c.executionCtx.site, url: new URL(c.req.url).host }));
app.get("/redirect", (c) => c.redirect("/elsewhere", 301));
app.get("/stream", (c) =>
  stream(c, async (s) => {
    for (const part of ["one ", "two ", "three"]) {
      await s.sleep(5);
      await s.write(part);
    }
  }));
app.get("/boom", () => {
  throw new HTTPException(418, { message: "teapot" });
});
export default app;
`;

let t: TestIsolate;
beforeAll(async () => {
  const bundle = await build({
    stdin: { contents: APP, resolveDir: fileURLToPath(new URL("../../..", import.meta.url)), loader: "ts" },
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "es2023",
    logLevel: "silent",
  });
  t = await createTestIsolate();
  await t.load(bundle.outputFiles[0]!.text);
});
afterAll(() => t.dispose());

const header = (headers: [string, string][], name: string) => headers.filter(([n]) => n === name).map(([, v]) => v);

describe("a Hono app", () => {
  it("serves text", async () => {
    const response = await t.request(wireRequest("http://fn/"));
    expect(response.status).toBe(200);
    expect(response.text).toBe("home");
    expect(header(response.headers, "content-type")).toEqual(["text/plain;charset=UTF-8"]); // as in Node: the runtime default for a string body
    expect(header(response.headers, "x-powered-by")).toEqual(["edgefn"]);
  });

  it("reads params and query strings", async () => {
    const response = await t.request(wireRequest("http://fn/users/42?q=hello%20world&tag=a&tag=b"));
    expect(JSON.parse(response.text)).toEqual({ id: "42", q: "hello world", tags: ["a", "b"], path: "/users/42" });
  });

  it("parses a JSON body and answers with a status, through CORS middleware", async () => {
    const response = await t.request(
      wireRequest("http://fn/api/echo", {
        method: "POST",
        headers: [["content-type", "application/json"], ["origin", "https://site.example"]],
        body: new TextEncoder().encode(JSON.stringify({ a: [1, 2], b: "é" })),
      }),
    );
    expect(response.status).toBe(201);
    expect(JSON.parse(response.text)).toEqual({ got: { a: [1, 2], b: "é" }, type: "application/json" });
    expect(header(response.headers, "access-control-allow-origin")).toEqual(["https://site.example"]);
  });

  it("answers a CORS preflight", async () => {
    const response = await t.request(
      wireRequest("http://fn/api/echo", {
        method: "OPTIONS",
        headers: [["origin", "https://site.example"], ["access-control-request-method", "POST"]],
      }),
    );
    expect(response.status).toBe(204);
    expect(header(response.headers, "access-control-allow-methods")[0]).toContain("POST");
  });

  it("parses urlencoded and multipart forms with parseBody()", async () => {
    const urlencoded = await t.request(
      wireRequest("http://fn/form", {
        method: "POST",
        headers: [["content-type", "application/x-www-form-urlencoded"]],
        body: new TextEncoder().encode("name=Ada+L&lang=%C3%A9"),
      }),
    );
    expect(JSON.parse(urlencoded.text)).toEqual({ name: "Ada L", lang: "é" });
    const form = new FormData();
    form.append("field", "value");
    const node = new Request("http://x/", { method: "POST", body: form });
    const multipart = await t.request(
      wireRequest("http://fn/form", {
        method: "POST",
        headers: [["content-type", node.headers.get("content-type")!]],
        body: new Uint8Array(await node.arrayBuffer()),
      }),
    );
    expect(JSON.parse(multipart.text)).toEqual({ field: "value" });
  });

  it("sets headers, appends Set-Cookie, and iterates request headers", async () => {
    const response = await t.request(wireRequest("http://fn/headers", { headers: [["accept", "*/*"], ["x-b", "1"]] }));
    expect(response.text).toBe("accept,x-b");
    expect(header(response.headers, "x-custom")).toEqual(["yes"]);
    expect(header(response.headers, "set-cookie")).toEqual(["a=1", "b=2"]);
  });

  it("sees env and ctx", async () => {
    const response = await t.request(wireRequest("http://fn/env"), { site: "edge-7" }, { vars: { GREETING: "hi" } });
    expect(JSON.parse(response.text)).toEqual({ greeting: "hi", site: "edge-7", url: "fn" });
  });

  it("redirects, 404s and maps HTTPException", async () => {
    const redirect = await t.request(wireRequest("http://fn/redirect"));
    expect([redirect.status, header(redirect.headers, "location")]).toEqual([301, ["/elsewhere"]]);
    const missing = await t.request(wireRequest("http://fn/nope"));
    expect([missing.status, missing.text]).toEqual([404, "404 Not Found"]);
    const boom = await t.request(wireRequest("http://fn/boom"));
    expect([boom.status, boom.text]).toEqual([418, "teapot"]);
  });

  it("streams with hono/streaming", async () => {
    const response = await t.dispatch(wireRequest("http://fn/stream"));
    expect(response.stream).not.toBeNull();
    const parts: string[] = [];
    for (let chunk = await t.pull(response.stream!); chunk !== null; chunk = await t.pull(response.stream!)) {
      parts.push(Buffer.from(chunk).toString());
    }
    expect(parts.join("")).toBe("one two three");
    expect(parts.length).toBeGreaterThan(1);
  });
});
