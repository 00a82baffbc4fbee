import { afterEach, describe, expect, it } from "vitest";
import type { RequestWire, ResponseWire } from "../wire.ts";
import { createTestIsolate, wireRequest, type TestIsolate } from "./_test-isolate.ts";

let t: TestIsolate | undefined;
afterEach(() => {
  t?.dispose();
  t = undefined;
});

async function isolateWith(handler: string, options: Parameters<typeof createTestIsolate>[0] = {}): Promise<TestIsolate> {
  t = await createTestIsolate(options);
  await t.load(handler);
  return t;
}

const text = (bytes: Uint8Array | null) => Buffer.from(bytes ?? []).toString("utf8");

describe("setHandler", () => {
  it.each([
    ["export default 42;", /default export is a number/],
    ["export default {};", /no fetch method \(it has no properties\)/],
    ["export default { get: 1, post: 2 };", /no fetch method \(it has only get, post\)/],
    ["export default function handler() {}", /a function with no fetch method/],
    ["export default { fetch: 'nope' };", /fetch property that is a string, not a function/],
    ["export const x = 1;", /has no default export/],
  ])("rejects %s naming what is missing", async (code, message) => {
    t = await createTestIsolate();
    const error = await t.load(code).then(() => null, (e: unknown) => e as Error);
    expect(error?.name).toBe("TypeError");
    expect(error?.message).toMatch(message);
  });

  it("accepts a plain object and a class instance with fetch", async () => {
    await isolateWith("class App { fetch() { return new Response('class'); } } export default new App();");
    expect((await t!.request(wireRequest("http://fn/"))).text).toBe("class");
  });
});

describe("dispatch", () => {
  it("passes request, env and ctx, and returns the response as plain data", async () => {
    await isolateWith(`export default {
      async fetch(request, env, ctx) {
        return Response.json({
          method: request.method, url: request.url, ua: request.headers.get("user-agent"),
          body: await request.text(), vars: env.GREETING, service: typeof env.INVENTORY.fetch,
          ctx: [ctx.site, ctx.region, ctx.priority, ctx.requestId, typeof ctx.waitUntil, typeof ctx.passThroughOnException],
          immutable: (() => { try { request.headers.set("x", "y"); return false; } catch (e) { return e instanceof TypeError; } })(),
        }, { status: 201, headers: { "x-out": "1" } });
      },
    };`);
    const response = await t!.dispatch(
      wireRequest("http://fn/path?q=1", { method: "POST", headers: [["user-agent", "test"]], body: new TextEncoder().encode("in") }),
      { requestId: "r-42", site: "edge-1" },
      { vars: { GREETING: "hi" }, services: { INVENTORY: "inventory" } },
    );
    expect(response.status).toBe(201);
    expect(response.stream).toBeNull();
    expect(response.headers).toEqual([["x-out", "1"], ["content-type", "application/json"]]);
    expect(JSON.parse(text(response.body))).toEqual({
      method: "POST",
      url: "http://fn/path?q=1",
      ua: "test",
      body: "in",
      vars: "hi",
      service: "function",
      ctx: ["edge-1", "test-region", "normal", "r-42", "function", "function"],
      immutable: true,
    });
  });

  it("rejects with a TypeError naming what fetch() returned when it is not a Response", async () => {
    await isolateWith("export default { fetch() { return 'text'; } };");
    await expect(t!.dispatch(wireRequest("http://fn/"))).rejects.toThrow(/must return a Response.*returned a string/);
    await t!.load("export default { async fetch() {} };");
    await expect(t!.dispatch(wireRequest("http://fn/"))).rejects.toThrow(/returned undefined/);
    await t!.load("export default { async fetch() { return { status: 200 }; } };");
    await expect(t!.dispatch(wireRequest("http://fn/"))).rejects.toThrow(/returned a plain object/);
  });

  it("rejects with the function's own error when it throws", async () => {
    await isolateWith("export default { async fetch() { throw new RangeError('boom'); } };");
    const error = await t!.dispatch(wireRequest("http://fn/")).catch((e: unknown) => e as Error);
    expect(error).toMatchObject({ name: "RangeError", message: "boom" });
  });

  it("refuses Response.error() and a body already read", async () => {
    await isolateWith("export default { fetch() { return Response.error(); } };");
    await expect(t!.dispatch(wireRequest("http://fn/"))).rejects.toThrow(/Response.error\(\)/);
    await t!.load("export default { async fetch() { const r = new Response('x'); await r.text(); return r; } };");
    await expect(t!.dispatch(wireRequest("http://fn/"))).rejects.toThrow(/already been read/);
  });

  it("sends bodies known up front, and fully buffered streams, whole", async () => {
    await isolateWith(`export default { fetch(request) {
      const kind = new URL(request.url).pathname;
      if (kind === "/blob") return new Response(new Blob(["blob"], { type: "x/y" }));
      if (kind === "/bytes") return new Response(new Uint8Array([1, 2, 3]));
      if (kind === "/empty") return new Response(null, { status: 204 });
      if (kind === "/form") { const f = new FormData(); f.append("a", "1"); return new Response(f); }
      if (kind === "/rewrapped") { const upstream = new Response("re-wrapped", { status: 203 }); return new Response(upstream.body, upstream); }
      return new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("buf")); c.enqueue(new TextEncoder().encode("fered")); c.close(); } }));
    } };`);
    const blob = await t!.dispatch(wireRequest("http://fn/blob"));
    expect([text(blob.body), blob.stream, blob.headers]).toEqual(["blob", null, [["content-type", "x/y"]]]);
    expect([...(await t!.dispatch(wireRequest("http://fn/bytes"))).body!]).toEqual([1, 2, 3]);
    expect(await t!.dispatch(wireRequest("http://fn/empty"))).toMatchObject({ status: 204, body: null, stream: null });
    const form = await t!.dispatch(wireRequest("http://fn/form"));
    expect(text(form.body)).toContain('name="a"');
    const rewrapped = await t!.dispatch(wireRequest("http://fn/rewrapped"));
    expect([rewrapped.status, text(rewrapped.body), rewrapped.stream]).toEqual([203, "re-wrapped", null]);
    const buffered = await t!.dispatch(wireRequest("http://fn/buffered"));
    expect([text(buffered.body), buffered.stream]).toEqual(["buffered", null]);
  });
});

describe("streaming bodies", () => {
  const STREAMING = `export default { fetch(request) {
    const encoder = new TextEncoder();
    const path = new URL(request.url).pathname;
    if (path === "/strings") return new Response(new ReadableStream({ start(c) { c.enqueue("not bytes"); } }));
    return new Response(new ReadableStream({
      async start(controller) {
        for (let i = 0; i < 4; i++) {
          await new Promise((resolve) => setTimeout(resolve, 15));
          controller.enqueue(encoder.encode("chunk" + i + ";"));
        }
        controller.close();
      },
      cancel(reason) { globalThis.cancelled = String(reason); },
    }), { headers: { "content-type": "text/plain" } });
  } };`;

  it("pulls chunks as the function produces them, then null", async () => {
    await isolateWith(STREAMING);
    const response = await t!.dispatch(wireRequest("http://fn/"));
    expect(response.body).toBeNull();
    expect(typeof response.stream).toBe("number");
    const chunks: string[] = [];
    for (let chunk = await t!.pull(response.stream!); chunk !== null; chunk = await t!.pull(response.stream!)) {
      chunks.push(text(chunk));
    }
    expect(chunks).toEqual(["chunk0;", "chunk1;", "chunk2;", "chunk3;"]);
    expect(await t!.pull(response.stream!)).toBeNull();
  });

  it("cancel() reaches the stream's source", async () => {
    await isolateWith(STREAMING);
    const response = await t!.dispatch(wireRequest("http://fn/"));
    expect(text(await t!.pull(response.stream!))).toBe("chunk0;");
    await t!.cancel(response.stream!);
    expect(await t!.run("return globalThis.cancelled")).toMatch(/client went away/);
    expect(await t!.pull(response.stream!)).toBeNull();
  });

  it("rejects a pull whose chunk is not a Uint8Array", async () => {
    await isolateWith(STREAMING);
    const response = await t!.dispatch(wireRequest("http://fn/strings"));
    await expect(t!.pull(response.stream!)).rejects.toThrow(/gave a string chunk.*Uint8Array/);
  });

  it("coalesces chunks that are already queued into one pull", async () => {
    await isolateWith(`export default { fetch() {
      let n = 0;
      return new Response(new ReadableStream({
        pull(c) { for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array([n++])); if (n >= 10) c.close(); },
      }, { highWaterMark: 0 }));
    } };`);
    const response = await t!.dispatch(wireRequest("http://fn/"));
    const pulls: number[][] = [];
    for (let chunk = await t!.pull(response.stream!); chunk !== null; chunk = await t!.pull(response.stream!)) pulls.push([...chunk]);
    expect(pulls.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(pulls.length).toBeLessThan(10);
  });
});

describe("ctx.waitUntil and settled()", () => {
  it("settles after every waitUntil promise, and never rejects", async () => {
    await isolateWith(`export default { fetch(request, env, ctx) {
      globalThis.done = [];
      ctx.waitUntil(new Promise((resolve) => setTimeout(() => { done.push("slow"); resolve(); }, 400)));
      ctx.waitUntil(Promise.reject(new Error("background failure")));
      ctx.waitUntil(new Promise((resolve) => setTimeout(() => {
        ctx.waitUntil(new Promise((r) => setTimeout(() => { done.push("nested"); r(); }, 20)));
        resolve();
      }, 10)));
      return new Response("now");
    } };`);
    const response = await t!.request(wireRequest("http://fn/"), { requestId: "w-1" });
    expect(response.text).toBe("now");
    // Answered before the slow work is done (wide margins: timers on a loaded machine drift).
    expect(await t!.run("return globalThis.done")).not.toContain("slow");
    await t!.settled("w-1");
    expect(await t!.run("return globalThis.done")).toEqual(["nested", "slow"]);
    await expect
      .poll(() => t!.logs)
      .toContainEqual(expect.objectContaining({ level: "error", requestId: "w-1", message: expect.stringContaining("background failure") }));
    await t!.settled("never-dispatched");
  });
});

describe("fetch() and service bindings", () => {
  const seen: { request: RequestWire; requestId: string; target?: string }[] = [];
  const answer = (over: Partial<ResponseWire & { url: string; redirected: boolean }> = {}) => ({
    status: 200,
    statusText: "OK",
    headers: [["content-type", "text/plain"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]] as [string, string][],
    body: new TextEncoder().encode("from host"),
    stream: null,
    ...over,
  });

  it("sends the whole request to the host and builds the Response from its answer", async () => {
    seen.length = 0;
    t = await createTestIsolate({
      fetch: async (request, requestId) => {
        seen.push({ request, requestId });
        return answer({ url: "https://api.example.com/final", redirected: true });
      },
    });
    await t.load(`export default { async fetch() {
      const r = await fetch("https://api.example.com/x?y=1", { method: "POST", body: "payload", headers: { "X-Key": "k" }, redirect: "manual" });
      console.log("after fetch");
      return Response.json({ status: r.status, text: await r.text(), url: r.url, redirected: r.redirected, type: r.type,
        cookies: r.headers.getSetCookie(), immutable: (() => { try { r.headers.set("a", "b"); return false; } catch { return true; } })() });
    } };`);
    const response = await t.request(wireRequest("http://fn/"), { requestId: "f-1" });
    expect(JSON.parse(response.text)).toEqual({
      status: 200, text: "from host", url: "https://api.example.com/final", redirected: true, type: "basic",
      cookies: ["a=1", "b=2"], immutable: true,
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.requestId).toBe("f-1");
    expect(seen[0]!.request).toMatchObject({
      method: "POST",
      url: "https://api.example.com/x?y=1",
      headers: [["x-key", "k"], ["content-type", "text/plain;charset=UTF-8"]],
      redirect: "manual",
    });
    expect(text(seen[0]!.request.body)).toBe("payload");
    // Console lines are fire-and-forget host calls: one may land just after the response.
    await expect
      .poll(() => t!.logs)
      .toContainEqual(expect.objectContaining({ requestId: "f-1", message: expect.stringContaining("after fetch") }));
  });

  it("turns a host refusal into a TypeError carrying the host's message", async () => {
    t = await createTestIsolate({
      fetch: async () => {
        throw new Error('fetch to evil.example:443 is not allowed for function "hello": add "evil.example:443" to spec.egress in its edgefn.yaml');
      },
    });
    await t.load(`export default { async fetch() {
      try { await fetch("https://evil.example/"); return new Response("no error"); }
      catch (e) { return new Response(e.name + ": " + e.message); }
    } };`);
    expect((await t.request(wireRequest("http://fn/"))).text).toBe(
      'TypeError: fetch to evil.example:443 is not allowed for function "hello": add "evil.example:443" to spec.egress in its edgefn.yaml',
    );
  });

  it("rejects with the signal's reason when aborted while the host works", async () => {
    t = await createTestIsolate({ fetch: () => new Promise(() => {}) });
    await t.load(`export default { async fetch() {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 10);
      try { await fetch("https://slow.example/", { signal: controller.signal }); return new Response("no"); }
      catch (e) { return new Response(e.name); }
    } };`);
    expect((await t.request(wireRequest("http://fn/"))).text).toBe("AbortError");
  });

  it("keeps each request's id across interleaved host calls", async () => {
    const delays: Record<string, number> = { "/slow": 40, "/fast": 5 };
    t = await createTestIsolate({
      fetch: (request) => new Promise((resolve) => setTimeout(() => resolve(answer()), delays[new URL(request.url).pathname])),
    });
    await t.load(`export default { async fetch(request) {
      const path = new URL(request.url).pathname;
      await fetch("https://upstream.example" + path);
      console.log("done " + path);
      return new Response(path);
    } };`);
    await Promise.all([
      t.request(wireRequest("http://fn/slow"), { requestId: "slow-1" }),
      t.request(wireRequest("http://fn/fast"), { requestId: "fast-1" }),
    ]);
    const lines = t.logs.filter((l) => l.message.startsWith("done")).map((l) => [l.requestId, l.message]);
    expect(lines).toEqual([["fast-1", "done /fast"], ["slow-1", "done /slow"]]);
  });

  it("env.SERVICE.fetch() goes to host.service with the target and request id", async () => {
    seen.length = 0;
    t = await createTestIsolate({
      service: async (target, request, requestId) => {
        seen.push({ target, request, requestId });
        return answer({ body: new TextEncoder().encode(`stock of ${new URL(request.url).pathname}`) });
      },
    });
    await t.load(`export default { async fetch(request, env) {
      const stock = await env.INVENTORY.fetch("http://inventory/items/42");
      const forwarded = await env.INVENTORY.fetch(request);
      return new Response(await stock.text() + " | " + await forwarded.text());
    } };`);
    const response = await t.request(wireRequest("http://fn/items/7", { method: "PUT", body: new Uint8Array([1]) }), { requestId: "s-1" }, {
      services: { INVENTORY: "inventory" },
    });
    expect(response.text).toBe("stock of /items/42 | stock of /items/7");
    expect(seen.map((s) => [s.target, s.requestId, s.request.method])).toEqual([
      ["inventory", "s-1", "GET"],
      ["inventory", "s-1", "PUT"],
    ]);
  });
});
