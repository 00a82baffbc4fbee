import { afterEach, describe, expect, it } from "vitest";
import { globalsScript } from "./globals-script.ts";
import { IsolatePool, type PoolEntry } from "./pool.ts";
import type { SandboxBinding } from "./sandbox.ts";

const pools: IsolatePool[] = [];
afterEach(() => {
  for (const pool of pools.splice(0)) pool.close();
});

async function createPool(opts: { maxWarm: number; idleMs?: number; spares?: number }): Promise<IsolatePool> {
  const pool = new IsolatePool({
    globalsScript: await globalsScript(),
    logLevel: "silent",
    maxWarm: opts.maxWarm,
    idleMs: opts.idleMs ?? 60_000,
    spares: opts.spares ?? 0,
    spareMemoryMb: 64,
    loadTimeoutMs: 5_000,
  });
  pools.push(pool);
  return pool;
}

function entry(name: string, code = `export default { fetch() { return new Response("${name}"); } };`): PoolEntry {
  const binding: SandboxBinding = {
    service: name,
    cpuMs: 1_000,
    log: () => undefined,
    fetch: () => Promise.reject(new Error("no egress in this test")),
    callService: () => Promise.reject(new Error("no services in this test")),
    mapStack: (stack) => stack,
  };
  return { key: `${name}@1`, memoryMb: 64, code, filename: `edgefn://${name}/index.js`, binding, cachedData: undefined };
}

describe("IsolatePool", () => {
  it("keeps one warm sandbox per entry and reuses it", async () => {
    const pool = await createPool({ maxWarm: 4 });
    const a = entry("a");
    const first = await pool.acquire(a);
    expect(await pool.acquire(a)).toBe(first);
    expect(a.cachedData).toBeDefined(); // the next cold load skips compiling
  });

  it("evicts the least recently used idle sandbox past maxWarm", async () => {
    const pool = await createPool({ maxWarm: 2 });
    const [a, b, c] = [entry("a"), entry("b"), entry("c")];
    const sa = await pool.acquire(a);
    const sb = await pool.acquire(b);
    await pool.acquire(a); // a is now more recent than b
    await pool.acquire(c);
    expect(pool.stats().warm).toBe(2);
    await expect.poll(() => sb.dead).toBe(true); // disposed just after, off the request's path
    expect(sa.dead).toBe(false);
    // b loads again, from its cached code
    const again = await pool.acquire(b);
    expect(again).not.toBe(sb);
    expect(again.dead).toBe(false);
  });

  it("never evicts a sandbox with a request in flight", async () => {
    const pool = await createPool({ maxWarm: 1 });
    const slow = entry("slow", `export default { async fetch() { await new Promise((r) => setTimeout(r, 300)); return new Response("done"); } };`);
    const sandbox = await pool.acquire(slow);
    const running = sandbox.dispatch(
      { method: "GET", url: "http://x/", headers: [], body: null },
      { site: "t", region: "t", priority: "normal", requestId: "r1" },
      { vars: {}, services: {} },
    );
    await pool.acquire(entry("other"));
    expect(sandbox.dead).toBe(false);
    expect((await running).status).toBe(200);
  });

  it("disposes sandboxes idle for longer than idleMs", async () => {
    const pool = await createPool({ maxWarm: 4, idleMs: 1_000 });
    const sandbox = await pool.acquire(entry("idle"));
    await expect.poll(() => sandbox.dead, { timeout: 5_000, interval: 200 }).toBe(true);
    expect(pool.stats().warm).toBe(0);
  });

  it("keeps spare isolates ready and hands one to a cold load", async () => {
    const pool = await createPool({ maxWarm: 4, spares: 1 });
    await expect.poll(() => pool.stats().spares, { timeout: 5_000 }).toBe(1);
    await pool.acquire(entry("a"));
    await expect.poll(() => pool.stats().spares, { timeout: 5_000 }).toBe(1);
  });
});
