/**
 * The runtime on the VAN: a router in process (port 0) and two runtime processes joined to it.
 * A function deployed on one site answers calls made at the other. Every wait is bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRouterConfig, startRouter, type Router } from "../router/index.ts";
import { inlineFunction } from "./helpers/inline.ts";
import { until } from "./helpers/router.ts";
import { startRuntime, type RuntimeHandle } from "./helpers/runtime.ts";

let router: Router;
let edge1: RuntimeHandle;
let edge2: RuntimeHandle;

beforeAll(async () => {
  router = await startRouter(parseRouterConfig({ EDGEFN_ROUTER_LISTEN: "127.0.0.1:0", EDGEFN_ROUTER_ID: "r1" }));
  const env = { EDGEFN_VAN: `127.0.0.1:${router.port}` };
  [edge1, edge2] = await Promise.all([startRuntime({ site: "edge-1", env }), startRuntime({ site: "edge-2", env })]);
  await edge1.deploy(
    await inlineFunction(
      "hello",
      `export default { async fetch(req: Request, env: unknown, ctx: { site: string }) {
         const url = new URL(req.url);
         const body = req.method === "POST" ? await req.text() : "";
         return new Response(req.method + " " + url.pathname + url.search + " from " + ctx.site + (body ? " got " + body : ""), { headers: { "x-fn": "hello" } });
       } };`,
    ),
  );
  await until(() => router.consumers("fn/hello").some((c) => c.credit > 0), 5_000, "edge-1 serves fn/hello");
});
afterAll(async () => {
  await Promise.all([edge1?.stop(), edge2?.stop()]);
  await router?.close();
});

describe("runtime on the VAN", () => {
  it("answers a call at edge-2 from edge-1, path and query intact", async () => {
    const res = await fetch(`${edge2.url}/hello/x?y=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-edgefn-site")).toBe("edge-1");
    expect(res.headers.get("x-fn")).toBe("hello");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(await res.text()).toBe("GET /x?y=1 from edge-1");
  });

  it("round-trips a POST body", async () => {
    const res = await fetch(`${edge2.url}/hello/post`, { method: "POST", body: "ping", headers: { "content-type": "text/plain" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-edgefn-site")).toBe("edge-1");
    expect(await res.text()).toBe("POST /post from edge-1 got ping");
  });

  it("answers 502 ERR_NO_HEALTHY_SITE quickly for a function on neither site", async () => {
    const started = performance.now();
    const res = await fetch(`${edge2.url}/nowhere/`, { signal: AbortSignal.timeout(15_000) });
    const ms = performance.now() - started;
    expect(res.status).toBe(502);
    expect(res.headers.get("x-edgefn-site")).toBe("edge-2");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("ERR_NO_HEALTHY_SITE");
    expect(ms).toBeLessThan(10_000);
  });

  it("fails cleanly at edge-2 once hello is removed from edge-1", async () => {
    const removed = await fetch(`${edge1.controlUrl}/v1/functions/hello`, { method: "DELETE", headers: { authorization: `Bearer ${edge1.token}` } });
    expect(removed.ok).toBe(true);
    await until(() => router.consumers("fn/hello").length === 0, 5_000, "edge-1 detached fn/hello");
    const started = performance.now();
    const res = await fetch(`${edge2.url}/hello/x`, { signal: AbortSignal.timeout(15_000) });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("ERR_NO_HEALTHY_SITE");
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
