/**
 * The isolate host process can die (isolated-vm has crashed it with SIGSEGV on V8
 * out-of-memory). Here we kill it with SIGSEGV under load and check that the runtime keeps
 * its listener and its deployed functions, and loses at most the requests that were in it.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { inlineFunction } from "./helpers/inline.ts";
import { startRuntime, type RuntimeHandle } from "./helpers/runtime.ts";

let rt: RuntimeHandle;

beforeAll(async () => {
  rt = await startRuntime({ site: "crash" });
  await rt.deploy(await inlineFunction("hello", `export default { fetch() { return new Response("hi"); } };`));
  await rt.deploy(
    await inlineFunction("slow", `export default { async fetch() { await new Promise((r) => setTimeout(r, 2000)); return new Response("slow"); } };`),
  );
});
afterAll(() => rt.stop());

async function workerPid(): Promise<number> {
  const res = await fetch(`${rt.url}/healthz`, { headers: { connection: "close" } });
  return ((await res.json()) as { pid: number }).pid;
}

it("survives its isolate host crashing: same listener, same functions, only in-flight requests lost", async () => {
  const before = await workerPid();
  const inflight = Array.from({ length: 5 }, () =>
    fetch(`${rt.url}/slow/`).then(
      (r) => r.status,
      () => "lost" as const,
    ),
  );
  await new Promise((r) => setTimeout(r, 200));
  process.kill(before, "SIGSEGV");

  // New connections wait in the listen queue while the host restarts; none is refused.
  const started = performance.now();
  const after: string[] = [];
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${rt.url}/hello/`, { headers: { connection: "close" } });
    after.push(`${res.status} ${await res.text()}`);
  }
  const recoveredMs = performance.now() - started;
  expect(after).toEqual(Array(20).fill("200 hi"));
  expect(recoveredMs).toBeLessThan(10_000);

  const lost = await Promise.all(inflight);
  // Those requests were inside the dead process: they may be lost, but nothing else is.
  for (const outcome of lost) expect([200, "lost"]).toContain(outcome);

  expect(await workerPid()).not.toBe(before);
  const list = await fetch(`${rt.controlUrl}/v1/functions`, { headers: { authorization: `Bearer ${rt.token}` } });
  const names = ((await list.json()) as { functions: { name: string }[] }).functions.map((f) => f.name);
  expect(names).toEqual(["hello", "slow"]);
  expect(await (await fetch(`${rt.url}/slow/`)).text()).toBe("slow");
  expect(rt.logs.some((l) => l.includes("isolate host process died"))).toBe(true);

  // Versions belong to the supervisor: the restart did not reset them.
  const put = async (body: string) => {
    const deployment = await inlineFunction("hello", `export default { fetch() { return new Response("${body}"); } };`);
    const res = await fetch(`${rt.controlUrl}/v1/functions/hello`, {
      method: "PUT",
      headers: { authorization: `Bearer ${rt.token}`, "content-type": "application/json" },
      body: JSON.stringify(deployment),
    });
    return ((await res.json()) as { function: { version: number } }).function.version;
  };
  expect(await put("hi")).toBe(1); // identical to what is deployed: unchanged
  expect(await put("hi v2")).toBe(2);
  expect(await (await fetch(`${rt.url}/hello/`)).text()).toBe("hi v2");
}, 60_000);
