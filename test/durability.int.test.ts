/**
 * A site's state survives kill -9 at any moment: 20 times, a runtime with a state dir is
 * killed (the whole process group, SIGKILL) while deploys are under way, then started again
 * on the same dir. Every acknowledged deploy must be back, nothing half-written served.
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { inlineFunction } from "./helpers/inline.ts";
import { startRuntime, type Deployment, type RuntimeHandle } from "./helpers/runtime.ts";

const KILLS = 20;
const NAMES = ["alpha", "beta", "gamma"];
let dir: string;
const versions = new Map<string, Deployment[]>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgefn-durable-"));
  // Bodies are built once: deploy n of a function answers "<name> <n>".
  for (const name of NAMES) {
    const list: Deployment[] = [];
    for (let n = 0; n < 12; n++) list.push(await inlineFunction(name, `export default { fetch() { return new Response("${name} ${n}"); } };`));
    versions.set(name, list);
  }
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const start = () => startRuntime({ site: "durable", log: "warn", env: { EDGEFN_STATE_DIR: dir, EDGEFN_KEEP_VERSIONS: "3" } });

async function put(rt: RuntimeHandle, deployment: Deployment): Promise<boolean> {
  const res = await fetch(`${rt.controlUrl}/v1/functions/${deployment.manifest.metadata.name}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${rt.token}`, "content-type": "application/json" },
    body: JSON.stringify(deployment),
  });
  await res.text();
  return res.ok;
}

it(`keeps every acknowledged deploy across ${KILLS} kill -9s during deploys`, async () => {
  /** Per function: the highest deploy index acknowledged so far (-1: none yet). */
  const acknowledged = new Map(NAMES.map((n) => [n, -1]));
  let round = 0;
  for (let kill = 0; kill < KILLS; kill++) {
    const rt = await start();
    // Everything acknowledged before the last kill serves now, at that deploy or a later one.
    for (const name of NAMES) {
      const floor = acknowledged.get(name)!;
      const res = await fetch(`${rt.url}/${name}/`);
      const body = await res.text();
      if (floor < 0) {
        expect([200, 404]).toContain(res.status);
        continue;
      }
      expect(res.status, `${name} after kill ${kill}`).toBe(200);
      const served = Number(body.split(" ")[1]);
      expect(body).toMatch(new RegExp(`^${name} \\d+$`));
      expect(served, `${name} after kill ${kill}`).toBeGreaterThanOrEqual(floor);
    }
    // Deploy in a loop and kill the whole process group somewhere in the middle.
    let stopped = false;
    const deploying = (async () => {
      while (!stopped) {
        const name = NAMES[round % NAMES.length]!;
        const index = Math.floor(round / NAMES.length) % 12;
        round++;
        const ok = await put(rt, versions.get(name)![index]!).catch(() => false);
        if (ok && !stopped) acknowledged.set(name, Math.max(acknowledged.get(name)!, index));
        // A wrap-around to index 0 would make "at least the acknowledged one" ambiguous.
        if (index === 11) acknowledged.set(name, -1);
      }
    })();
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 400));
    process.kill(-rt.pid, "SIGKILL");
    stopped = true;
    await deploying;
    await rt.stop(100);
  }
  // Nothing half-written is left behind for the next start to trip on.
  const files = await readdir(join(dir, "state", "functions"));
  expect(files.every((f) => f.endsWith(".json") || f.includes(".tmp-"))).toBe(true);
  expect((await stat(join(dir, "state", "functions", `${NAMES[0]}.json`))).mode & 0o777).toBe(0o600);
}, 240_000);
