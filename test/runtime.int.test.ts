/**
 * The runtime as users meet it: a real runtime process on 127.0.0.1, functions deployed over
 * its control API, called over real HTTP. Misbehaving functions must hurt only themselves.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inlineFunction } from "./helpers/inline.ts";
import { startRuntime, type RuntimeHandle } from "./helpers/runtime.ts";

let rt: RuntimeHandle;

beforeAll(async () => {
  rt = await startRuntime({ site: "limits" });
  await rt.deploy(
    await inlineFunction(
      "hello",
      `export default { fetch(req: Request, env: unknown, ctx: { site: string; requestId: string }) {
         return new Response("hello " + new URL(req.url).pathname + new URL(req.url).search + " from " + ctx.site);
       } };`,
    ),
  );
});
afterAll(() => rt.stop());

async function timed(path: string, init?: RequestInit): Promise<{ res: Response; body: string; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${rt.url}${path}`, init);
  const body = await res.text();
  return { res, body, ms: performance.now() - started };
}

function errorOf(body: string): { code: string; message: string; requestId?: string } {
  return (JSON.parse(body) as { error: { code: string; message: string; requestId?: string } }).error;
}

describe("ingress", () => {
  it("routes /<name>/* to the function with the prefix removed, and tags the response", async () => {
    const { res, body } = await timed("/hello/items/1?x=2");
    expect(res.status).toBe(200);
    expect(body).toBe("hello /items/1?x=2 from limits");
    expect(res.headers.get("x-edgefn-site")).toBe("limits");
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers /healthz and 404s unknown functions with a JSON error", async () => {
    expect((await timed("/healthz")).res.status).toBe(200);
    const { res, body } = await timed("/nope/");
    expect(res.status).toBe(404);
    expect(errorOf(body)).toMatchObject({ code: "ERR_SERVICE_NOT_FOUND", requestId: res.headers.get("x-request-id") });
  });
});

describe("limits", () => {
  it("ends a CPU loop within about twice its budget while other functions keep answering", async () => {
    await rt.deploy(
      await inlineFunction("spin", `export default { fetch(req: Request) { if (req.url.endsWith("/loop")) for (;;) {} return new Response("ok"); } };`, {
        limits: { cpuMs: 100 },
      }),
    );
    // Warm: the first request in a new isolate may also spend time compiling (README, limits).
    expect((await timed("/spin/")).body).toBe("ok");
    const spinning = timed("/spin/loop");
    // Meanwhile, hello answers at normal speed.
    const others: number[] = [];
    for (let i = 0; i < 5; i++) others.push((await timed("/hello/")).ms);
    const { res, body, ms } = await spinning;
    expect(res.status).toBe(503);
    expect(errorOf(body).code).toBe("ERR_CPU_LIMIT");
    expect(ms).toBeLessThan(400);
    expect(Math.max(...others)).toBeLessThan(100);
  });

  it("ends a loop that starts after an await (in a timer callback or a host promise)", async () => {
    await rt.deploy(
      await inlineFunction(
        "spin-later",
        `export default { async fetch() {
           await new Promise((r) => setTimeout(r, 10));
           await crypto.subtle.digest("SHA-256", new Uint8Array(8));
           for (;;) {}
         } };`,
        { limits: { cpuMs: 100 } },
      ),
    );
    const { res, body, ms } = await timed("/spin-later/");
    expect(res.status).toBe(503);
    expect(errorOf(body).code).toBe("ERR_CPU_LIMIT");
    expect(ms).toBeLessThan(600);
    // The isolate survives a CPU kill: the next request runs in it again.
    expect((await timed("/spin-later/")).res.status).toBe(503);
  });

  it("ends a memory bomb, gives the next request a fresh isolate, and leaves others alone", async () => {
    await rt.deploy(
      await inlineFunction(
        "bomb",
        `let calls = 0;
         export default { fetch(req: Request) {
           calls++;
           if (new URL(req.url).pathname === "/boom") { const a: number[][] = []; for (;;) a.push(new Array(100000).fill(calls)); }
           return new Response("calls in this isolate: " + calls);
         } };`,
        { limits: { memoryMb: 32, cpuMs: 10_000, timeoutMs: 30_000 } },
      ),
    );
    expect((await timed("/bomb/")).body).toBe("calls in this isolate: 1");
    const boom = timed("/bomb/boom");
    expect((await timed("/hello/")).res.status).toBe(200);
    const { res, body } = await boom;
    expect(res.status).toBe(503);
    expect(errorOf(body).code).toBe("ERR_MEMORY_LIMIT");
    expect((await timed("/bomb/")).body).toBe("calls in this isolate: 1");
    expect((await timed("/hello/")).res.status).toBe(200);
  }, 60_000);

  it("returns 500 for a throw and logs the stack mapped to the TypeScript source", async () => {
    await rt.deploy(
      await inlineFunction(
        "thrower",
        ["type Input = { n: number };", "function check(input: Input): never {", "  throw new RangeError(`bad n ${input.n}`);", "}", "export default { fetch() { return check({ n: 7 }); } };"].join("\n"),
      ),
    );
    const { res, body } = await timed("/thrower/");
    expect(res.status).toBe(500);
    const error = errorOf(body);
    expect(error.code).toBe("ERR_FUNCTION_THREW");
    expect(error.message).toContain("RangeError: bad n 7");
    await expect.poll(() => rt.logs.find((l) => l.includes("bad n 7") && l.includes('"stack"'))).toBeDefined();
    expect(rt.logs.find((l) => l.includes('"stack"') && l.includes("bad n 7"))).toMatch(/index\.ts:3:9/);
  });

  it("refuses requests over the concurrency limit with 503 and Retry-After", async () => {
    await rt.deploy(
      await inlineFunction("slow", `export default { async fetch() { await new Promise((r) => setTimeout(r, 400)); return new Response("done"); } };`, {
        limits: { concurrency: 2 },
      }),
    );
    const results = await Promise.all(Array.from({ length: 5 }, () => timed("/slow/")));
    const statuses = results.map((r) => r.res.status).sort();
    expect(statuses).toEqual([200, 200, 503, 503, 503]);
    const refused = results.find((r) => r.res.status === 503)!;
    expect(refused.res.headers.get("retry-after")).toBe("1");
    expect(errorOf(refused.body).code).toBe("ERR_CONCURRENCY_LIMIT");
  });

  it("answers 413 for a body over requestBytes, declared or streamed", async () => {
    await rt.deploy(
      await inlineFunction("echo", `export default { async fetch(req: Request) { return new Response(await req.text()); } };`, {
        limits: { requestBytes: 1024 },
      }),
    );
    expect((await timed("/echo/", { method: "POST", body: "x".repeat(1024) })).body).toBe("x".repeat(1024));
    const declared = await timed("/echo/", { method: "POST", body: "x".repeat(1025) });
    expect(declared.res.status).toBe(413);
    expect(errorOf(declared.body).code).toBe("ERR_BODY_TOO_LARGE");
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(512));
        controller.close();
      },
    });
    const streamed = await timed("/echo/", { method: "POST", body: chunks, duplex: "half" } as RequestInit);
    expect(streamed.res.status).toBe(413);
  });

  it("answers 504 when no response comes within timeoutMs", async () => {
    await rt.deploy(await inlineFunction("hang", `export default { fetch() { return new Promise<Response>(() => {}); } };`, { limits: { timeoutMs: 300 } }));
    const { res, body, ms } = await timed("/hang/");
    expect(res.status).toBe(504);
    expect(errorOf(body).code).toBe("ERR_FUNCTION_TIMEOUT");
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1500);
  });

  it("answers 502 when fetch() returns something that is not a Response", async () => {
    await rt.deploy(await inlineFunction("wrong", `export default { fetch() { return "hello" as unknown as Response; } };`));
    const { res, body } = await timed("/wrong/");
    expect(res.status).toBe(502);
    expect(errorOf(body).code).toBe("ERR_FUNCTION_BAD_RESPONSE");
  });
});

describe("deploys", () => {
  it("keeps the previous version serving when the new module throws at load", async () => {
    await rt.deploy(await inlineFunction("stable", `export default { fetch() { return new Response("v1"); } };`));
    const failed = rt.deploy(await inlineFunction("stable", `throw new Error("broken at load"); export default {};`));
    await expect(failed).rejects.toThrow(/ERR_MODULE_LOAD.*broken at load/);
    expect((await timed("/stable/")).body).toBe("v1");
  });

  it("refuses a bundle that is not valid JavaScript with ERR_MODULE_LOAD", async () => {
    const good = await inlineFunction("syntax", `export default { fetch() { return new Response("ok"); } };`);
    const code = "export default { fetch( {";
    const broken = { ...good, bundle: { code, digest: `sha256:${createHash("sha256").update(code).digest("hex")}` } };
    await expect(rt.deploy(broken)).rejects.toThrow(/ERR_MODULE_LOAD.*SyntaxError/);
  });

  it("swaps versions without dropping requests in flight", async () => {
    const version = (v: string) =>
      inlineFunction("swap", `export default { async fetch() { await new Promise((r) => setTimeout(r, 300)); return new Response("${v}"); } };`);
    await rt.deploy(await version("v1"));
    const inflight = Array.from({ length: 10 }, () => timed("/swap/"));
    await new Promise((r) => setTimeout(r, 50));
    await rt.deploy(await version("v2"));
    const before = await Promise.all(inflight);
    expect(before.map((r) => `${r.res.status} ${r.body}`)).toEqual(Array(10).fill("200 v1"));
    expect((await timed("/swap/")).body).toBe("v2");
  });
});

describe("ctx.waitUntil", () => {
  it("answers at once and finishes the waitUntil work afterwards", async () => {
    await rt.deploy(
      await inlineFunction(
        "later",
        `export default { fetch(req: Request, env: unknown, ctx: { waitUntil(p: Promise<unknown>): void }) {
           ctx.waitUntil(new Promise((r) => setTimeout(r, 300)).then(() => console.log("waitUntil work done")));
           return new Response("now");
         } };`,
      ),
    );
    const { res, body, ms } = await timed("/later/");
    expect(`${res.status} ${body}`).toBe("200 now");
    expect(ms).toBeLessThan(250);
    const requestId = res.headers.get("x-request-id")!;
    await expect.poll(() => rt.logs.find((l) => l.includes("waitUntil work done") && l.includes(requestId)), { timeout: 3_000 }).toBeDefined();
  });
});

describe("streaming", () => {
  it("streams a response body chunk by chunk as the function produces it", async () => {
    await rt.deploy(
      await inlineFunction(
        "ticker",
        `export default { fetch() {
           let n = 0;
           const body = new ReadableStream<Uint8Array>({
             async pull(controller) {
               await new Promise((r) => setTimeout(r, 100));
               controller.enqueue(new TextEncoder().encode("tick " + n++ + "\\n"));
               if (n === 3) controller.close();
             },
           });
           return new Response(body, { headers: { "content-type": "text/plain" } });
         } };`,
      ),
    );
    const res = await fetch(`${rt.url}/ticker/`);
    const reader = res.body!.getReader();
    const arrivals: number[] = [];
    const started = performance.now();
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arrivals.push(performance.now() - started);
      text += new TextDecoder().decode(value);
    }
    expect(text).toBe("tick 0\ntick 1\ntick 2\n");
    expect(arrivals.length).toBeGreaterThanOrEqual(2);
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(100);
  });
});
