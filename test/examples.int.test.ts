/**
 * The example functions (functions/*), which are also the templates of `edgefn init`: their
 * manifests validate, they type-check with Web APIs only, and they behave as documented when
 * built with esbuild and deployed to a real runtime on 127.0.0.1.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { createServer } from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { buildFunctionDir, readManifest } from "./helpers/bundle.ts";
import { NODE, REPO_ROOT, startRuntime } from "./helpers/runtime.ts";
import type { RuntimeHandle } from "./helpers/runtime.ts";

const FUNCTIONS = `${REPO_ROOT}functions`;
const EXAMPLES = ["api", "egress-fetch", "hello", "json-echo", "stream"];

describe("examples: source", () => {
  it("covers every function folder in functions/ (kube-example/ is a set of them, rendered by cli/kube's tests)", () => {
    const dirs = readdirSync(FUNCTIONS, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(`${FUNCTIONS}/${d.name}/edgefn.yaml`))
      .map((d) => d.name);
    expect(dirs.sort()).toEqual(EXAMPLES);
    expect(existsSync(`${FUNCTIONS}/kube-example/README.md`)).toBe(true);
  });

  it.each(EXAMPLES)("%s: edgefn.yaml is a valid EdgeFunction named after its folder", async (name) => {
    const manifest = await readManifest(`${FUNCTIONS}/${name}`);
    expect(manifest.metadata.name).toBe(name);
    expect(existsSync(`${FUNCTIONS}/${name}/${manifest.spec.source}`)).toBe(true);
  });

  it.each(EXAMPLES)("%s: bundles as one ES module for a neutral platform", async (name) => {
    const { bundle } = await buildFunctionDir(`${FUNCTIONS}/${name}`);
    expect(bundle.code).toMatch(/export\s*{[^}]*\bas default\b/);
    expect(bundle.code).not.toMatch(/\bfrom\s*["']node:|\brequire\(/);
  });

  it("type-checks with functions/tsconfig.json: Web APIs only, no Node globals", () => {
    const tsc = `${REPO_ROOT}node_modules/typescript/bin/tsc`;
    // execFileSync throws with tsc's diagnostics on stdout when it finds errors.
    expect(() => execFileSync(NODE, [tsc, "-p", `${FUNCTIONS}/tsconfig.json`], { cwd: REPO_ROOT, encoding: "utf8" })).not.toThrow();
  });
});

describe("examples: in a real runtime", () => {
  let rt: RuntimeHandle;

  beforeAll(async () => {
    rt = await startRuntime({ site: "examples" });
    for (const name of ["hello", "api", "json-echo", "stream"]) await rt.deploy(`${FUNCTIONS}/${name}`);
  });
  afterAll(async () => {
    await rt?.stop();
  });

  const get = (path: string, init?: RequestInit) => fetch(`${rt.url}${path}`, init);

  describe("hello", () => {
    it("greets from its site, echoes the path and logs one line with the request id", async () => {
      const res = await get("/hello/some/path?x=1");
      expect(res.status).toBe(200);
      const body = (await res.json()) as { message: string; path: string; site: string; requestId: string };
      expect(body).toEqual({ message: "Hello from examples!", path: "/some/path", site: "examples", requestId: expect.any(String) });
      expect(body.requestId).not.toBe("");
      await vi.waitFor(() => {
        const line = rt.logs.map(parseLine).find((l) => l?.msg === "hello: GET /some/path");
        expect(line).toMatchObject({ scope: "fn", requestId: body.requestId });
      });
    });

    it("reads GREETING from the manifest's env", async () => {
      await rt.deploy(`${FUNCTIONS}/hello`, (m) => ({ ...m, metadata: { name: "hello-fr" }, spec: { ...m.spec, env: { GREETING: "Bonjour" } } }));
      const body = (await (await get("/hello-fr/")).json()) as { message: string };
      expect(body.message).toBe("Bonjour from examples!");
    });
  });

  describe("api (Hono)", () => {
    it("GET /items lists items, filters by tag and limits", async () => {
      const res = await get("/api/items?tag=hardware&limit=1");
      expect(res.status).toBe(200);
      expect(res.headers.get("x-served-by")).toBe("examples");
      expect(res.headers.get("server-timing")).toMatch(/^app;dur=\d+$/);
      expect(await res.json()).toEqual({ items: [{ id: 1, name: "bolt", tags: ["hardware"] }], total: 2 });
    });

    it("GET /items/:id answers the item, 404 JSON when missing, 400 for a bad id", async () => {
      expect(await (await get("/api/items/2")).json()).toEqual({ id: 2, name: "nut", tags: ["hardware"] });
      const missing = await get("/api/items/99");
      expect(missing.status).toBe(404);
      expect(missing.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await missing.json()).toEqual({ error: "no item 99" });
      const bad = await get("/api/items/abc");
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ error: "id must be an integer" });
    });

    it("POST /items creates an item from a JSON body; rejects a bad one", async () => {
      const created = await get("/api/items", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "washer", tags: ["hardware"] }),
      });
      expect(created.status).toBe(201);
      const item = (await created.json()) as { id: number };
      expect(item).toEqual({ id: expect.any(Number), name: "washer", tags: ["hardware"] });
      expect(created.headers.get("location")).toBe(`/items/${item.id}`);
      // The store lives in the function's warm isolate, so the next request sees it.
      expect(await (await get(`/api/items/${item.id}`)).json()).toEqual(item);

      const invalid = await get("/api/items", { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":""}' });
      expect(invalid.status).toBe(400);
      expect(await invalid.json()).toEqual({ error: "body.name must be a non-empty string" });
      const malformed = await get("/api/items", { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
      expect(malformed.status).toBe(400);
      expect(await malformed.json()).toEqual({ error: expect.stringMatching(/JSON/) });
    });

    it("answers text at / and JSON 404 for unknown routes, with the middleware's header", async () => {
      const root = await get("/api/");
      expect(root.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(await root.text()).toMatch(/^items API/);
      const unknown = await get("/api/nope", { method: "DELETE" });
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get("x-served-by")).toBe("examples");
      expect(await unknown.json()).toEqual({ error: "no route for DELETE /nope" });
    });
  });

  describe("json-echo (zod)", () => {
    const post = (body: string) => get("/json-echo/", { method: "POST", headers: { "content-type": "application/json" }, body });

    it("returns the parsed order, with defaults applied", async () => {
      const res = await post(JSON.stringify({ sku: "BOLT-10", quantity: 3 }));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ order: { sku: "BOLT-10", quantity: 3, tags: [] }, site: "examples", requestId: expect.any(String) });
    });

    it("answers 400 with zod's issues, each with its path", async () => {
      const res = await post(JSON.stringify({ sku: "bolt", quantity: 0, email: "nope" }));
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; issues: { path: (string | number)[] }[]; summary: string };
      expect(body.error).toBe("invalid order");
      expect(body.issues.map((i) => i.path)).toEqual([["sku"], ["quantity"], ["email"]]);
      expect(body.summary).toContain("quantity");
    });

    it("answers 400 for a body that is not JSON, 405 for GET", async () => {
      const res = await post("not json");
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: "body is not valid JSON" });
      const wrong = await get("/json-echo/");
      expect(wrong.status).toBe(405);
      expect(wrong.headers.get("allow")).toBe("POST");
    });
  });

  describe("egress-fetch", () => {
    async function upstream() {
      const seen: IncomingHttpHeaders[] = [];
      const server = createServer((req, res) => {
        seen.push(req.headers);
        res.writeHead(200, { "content-type": "text/plain" }).end("upstream says hi");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return { port: (server.address() as AddressInfo).port, seen };
    }

    it("fetches an allowed host and summarises the answer", async () => {
      const { port, seen } = await upstream();
      await rt.deploy(`${FUNCTIONS}/egress-fetch`, (m) => ({
        ...m,
        spec: { ...m.spec, env: { UPSTREAM: `http://127.0.0.1:${port}/data` }, egress: [`127.0.0.1:${port}`] },
      }));
      const res = await get("/egress-fetch/");
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body).toEqual({
        upstream: `http://127.0.0.1:${port}/data`,
        status: 200,
        contentType: "text/plain",
        bytes: 16,
        sha256: createHash("sha256").update("upstream says hi").digest("hex"),
        elapsedMs: expect.any(Number),
        site: "examples",
      });
      expect(seen).toHaveLength(1);
      expect(seen[0]?.["x-request-id"]).toMatch(/.+/);
    });

    it("cannot reach a host missing from spec.egress: 502, and the host sees nothing", async () => {
      const { port, seen } = await upstream();
      await rt.deploy(`${FUNCTIONS}/egress-fetch`, (m) => ({
        ...m,
        metadata: { name: "egress-denied" },
        spec: { ...m.spec, env: { UPSTREAM: `http://127.0.0.1:${port}/data` }, egress: [] },
      }));
      const res = await get("/egress-denied/");
      expect(res.status).toBe(502);
      expect(await res.json()).toEqual({ upstream: `http://127.0.0.1:${port}/data`, error: expect.any(String) });
      expect(seen).toHaveLength(0);
    });
  });

  describe("stream", () => {
    it("sends server-sent events as they are produced, not all at the end", async () => {
      const started = performance.now();
      const res = await get("/stream/?count=3&interval=300");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      const arrivals: { at: number; text: string }[] = [];
      const decoder = new TextDecoder();
      const reader = res.body!.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        arrivals.push({ at: performance.now() - started, text: decoder.decode(chunk.value, { stream: true }) });
      }
      const events = arrivals.map((a) => a.text).join("").split("\n\n").filter((e) => e !== "");
      expect(events).toHaveLength(3);
      expect(events[2]).toMatch(/^id: 3\nevent: tick\ndata: {"n":3,"of":3,"site":"examples"/);
      // The first event arrived well before the last was produced (~600 ms after it).
      const first = arrivals.find((a) => a.text.includes("id: 1"))!;
      expect(arrivals.at(-1)!.at - first.at).toBeGreaterThan(400);
    });
  });
});

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
