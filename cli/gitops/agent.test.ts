/**
 * The GitOps agent's own rules, with a real git repository (read in place) and real builds,
 * against a stand-in site whose deploys can be made to fail: which failures are retried on
 * their own, and which wait for a new commit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RuntimeError } from "../../runtime/errors.ts";
import type { GitopsAgent, GitopsSite } from "../../runtime/gitops-api.ts";
import type { Deployment, FunctionInfo } from "../../runtime/manifest.ts";
import { createRepo } from "../../test/helpers/git-server.ts";
import { createGitopsAgent } from "./agent.ts";

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Deploys succeed, except the next `failures` ones, which throw `error`. */
function standInSite() {
  const live = new Map<string, FunctionInfo>();
  const control = { failures: 0, error: new RuntimeError("ERR_ISOLATE_CRASHED", "the isolate host died under the request", { status: 503 }), deploys: 0 };
  const site: GitopsSite = {
    info: () => ({ name: "edge-1", region: "test", ingressUrl: "http://127.0.0.1:1", functions: live.size, keepVersions: 5 }),
    list: () => [...live.values()],
    async deploy(d: Deployment) {
      control.deploys++;
      if (control.failures > 0) {
        control.failures--;
        throw control.error;
      }
      const name = d.manifest.metadata.name;
      const version = (live.get(name)?.version ?? 0) + 1;
      const info: FunctionInfo = { name, version, digest: d.bundle.digest, priority: d.manifest.spec.priority, status: "live", deployedAt: new Date().toISOString(), url: "", versions: [], secrets: [] };
      live.set(name, info);
      return info;
    },
    async rollback(name: string) {
      return live.get(name)!;
    },
    async remove(name: string) {
      live.delete(name);
    },
    async putSecret() {},
    async removeSecret() {},
  };
  return { site, control, live };
}

const fn = (text: string) => ({
  "functions/hello/edgefn.yaml": "apiVersion: edgefn.dev/v1alpha1\nkind: EdgeFunction\nmetadata:\n  name: hello\nspec:\n  source: ./index.ts\n",
  "functions/hello/index.ts": `export default { fetch() { return new Response(${JSON.stringify(text)}); } };\n`,
});

describe("the GitOps agent", () => {
  let dir: string;
  let agent: GitopsAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function setUp() {
    dir = mkdtempSync(path.join(tmpdir(), "edgefn-agent-"));
    const repo = await createRepo(path.join(dir, "git"), "fleet");
    await repo.commit(fn("v1"), "v1");
    const stand = standInSite();
    agent = await createGitopsAgent({ site: stand.site, siteDir: path.join(dir, "site"), siteName: "edge-1", trust: () => "trusted", tier: undefined, logger: silent });
    return { repo, stand, agent };
  }

  it("retries a commit the site itself failed to take at the next check, with no new commit", async () => {
    const { repo, stand, agent } = await setUp();
    stand.control.failures = 1;
    const first = await agent.attach({ repo: repo.work, branch: "main", path: ".", intervalS: 1, prune: true, gitUsername: "edgefn" });
    expect(first.gitops).toMatchObject({ state: "failed", error: { code: "ERR_ISOLATE_CRASHED", file: "functions/hello/edgefn.yaml" } });
    const until = Date.now() + 5_000;
    while (agent.status().state !== "synced" && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(agent.status()).toMatchObject({ state: "synced", error: null });
    expect(stand.live.get("hello")?.version).toBe(1);

    // A refused attach leaves the previous attachment checking as before.
    await expect(agent.attach({ repo: repo.work, branch: "nope", path: ".", intervalS: 1, prune: true, gitUsername: "edgefn" })).rejects.toMatchObject({ code: "ERR_GITOPS_CONFIG" });
    expect(agent.status()).toMatchObject({ attached: true, branch: "main", state: "synced" });
    const checked = agent.status().lastCheckAt;
    await new Promise((r) => setTimeout(r, 1_200));
    expect(agent.status().lastCheckAt).not.toBe(checked);
  });

  it("does not retry a commit whose own content failed (it will fail again) until a newer one comes", async () => {
    const { repo, stand, agent } = await setUp();
    stand.control.failures = 1;
    stand.control.error = new RuntimeError("ERR_MODULE_LOAD", "the module threw while loading: boom", { status: 400 });
    const first = await agent.attach({ repo: repo.work, branch: "main", path: ".", intervalS: 1, prune: true, gitUsername: "edgefn" });
    expect(first.gitops.error).toMatchObject({ code: "ERR_MODULE_LOAD", file: "functions/hello/edgefn.yaml" });
    const checked = first.gitops.lastCheckAt;
    await new Promise((r) => setTimeout(r, 1_600));
    expect(agent.status().lastCheckAt).not.toBe(checked); // it did check again…
    expect(stand.control.deploys).toBe(1); // …and did not deploy the same commit again
    expect(agent.status().state).toBe("failed");
    await repo.commit(fn("v2"), "fixed");
    expect(await agent.sync()).toMatchObject({ state: "synced", error: null });
    expect(stand.control.deploys).toBe(2);
  });
});
