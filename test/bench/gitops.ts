/**
 * Commit-to-live: from `git push` of a commit that changes functions/hello to the first call
 * that answers with it, at a real site process (cli/site-main.ts) attached to a real git
 * repository served over smart HTTP on loopback (test/helpers/git-server.ts, with a token).
 * Twice: with the webhook (the push is followed by the POST a git server sends) and with
 * polling only (every `intervalS`; the expected wait is about half the interval plus the sync).
 */
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSiteDir } from "../../cli/site-dir.ts";
import { createRepo, startGitServer } from "../helpers/git-server.ts";
import { REPO_ROOT, SITE_MAIN, startRuntime } from "../helpers/runtime.ts";
import { percentile } from "./load.ts";

export interface CommitToLiveRun {
  pushes: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  firstFailure: string | null;
}

export interface CommitToLive {
  webhook: CommitToLiveRun;
  polling: CommitToLiveRun & { intervalS: number };
}

export async function measureCommitToLive(pushes: number, intervalS: number): Promise<CommitToLive> {
  const dir = await mkdtemp(join(tmpdir(), "edgefn-bench-gitops-"));
  const token = "bench-git-token-0123456789";
  const server = await startGitServer({ root: join(dir, "git"), token });
  const repo = await createRepo(join(dir, "git"), "fleet");
  await cp(join(REPO_ROOT, "functions", "hello"), join(repo.work, "functions", "hello"), { recursive: true });
  const manifest = await readFile(join(repo.work, "functions", "hello", "edgefn.yaml"), "utf8");
  await repo.commit({}, "hello");
  await repo.push();
  await createSiteDir(join(dir, "site"), { name: "bench", region: "bench", force: false });
  const rt = await startRuntime({ site: "bench", log: "warn", entry: SITE_MAIN, env: { EDGEFN_STATE_DIR: join(dir, "site") } });
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${rt.controlUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${rt.token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
    const json = (await res.json()) as Record<string, any>;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  let n = 0;
  /** Commits a new greeting, pushes, optionally calls the webhook; resolves with ms to live. */
  const once = async (webhookToken: string | undefined): Promise<number> => {
    const greeting = `Commit${n++}`;
    // Polling: push at a random point of the interval, not right after the last sync ended.
    if (webhookToken === undefined) await new Promise((r) => setTimeout(r, Math.random() * intervalS * 1_000));
    await repo.commit({ "functions/hello/edgefn.yaml": manifest.replace(/GREETING: .*/, `GREETING: ${greeting}`) }, greeting);
    const started = performance.now();
    await repo.push();
    if (webhookToken !== undefined) {
      const res = await fetch(`${rt.controlUrl}/v1/gitops/webhook`, { method: "POST", headers: { authorization: `Bearer ${webhookToken}` }, body: "{}" });
      if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
    }
    const deadline = started + Math.max(30_000, intervalS * 3_000);
    while (performance.now() < deadline) {
      const body = await fetch(`${rt.url}/hello/`).then((r) => r.text(), () => "");
      if (body.includes(`${greeting} from`)) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`${greeting} never went live`);
  };
  const run = async (count: number, webhookToken: string | undefined): Promise<CommitToLiveRun> => {
    const times: number[] = [];
    const failures: string[] = [];
    for (let i = 0; i < count; i++) {
      try {
        times.push(await once(webhookToken));
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    return { pushes: count, p50Ms: percentile(times, 0.5), p99Ms: percentile(times, 0.99), failures: failures.length, firstFailure: failures[0] ?? null };
  };

  try {
    // An hour-long interval: only the webhook makes it sync.
    const attached = await api("PUT", "/v1/gitops", { repo: server.url("fleet"), gitToken: token, intervalS: 3600 });
    const webhook = await run(pushes, attached.webhook.token as string);
    await api("PUT", "/v1/gitops", { repo: server.url("fleet"), gitToken: token, intervalS });
    const polling = await run(Math.max(1, Math.ceil(pushes / 2)), undefined);
    return { webhook, polling: { ...polling, intervalS } };
  } finally {
    await rt.stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
