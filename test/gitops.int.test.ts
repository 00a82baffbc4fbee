/**
 * GitOps, end to end: real site processes (cli/site-main.ts, as `edgefn site up` runs them)
 * pull a real git repository served on loopback over smart HTTP (git http-backend behind
 * test/helpers/git-server.ts, token-protected), and apply what each commit says: add, change,
 * rename and remove functions; a broken commit then a fixed one; the remote down then back;
 * two sites with different placement from one repository; a sealed secret only its site opens.
 * Every wait is bounded.
 */
import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitopsStatus } from "../runtime/gitops-api.ts";
import { sealSecret } from "../cli/sealed.ts";
import { createSiteDir } from "../cli/site-dir.ts";
import { runCli } from "./helpers/cli.ts";
import { createRepo, startGitServer, type GitServer, type TestRepo } from "./helpers/git-server.ts";
import { SITE_MAIN } from "./helpers/runtime.ts";
import { eventually, startSite, type SiteHandle } from "./helpers/sites.ts";

const GIT_TOKEN = randomBytes(16).toString("hex");

function manifest(name: string, extra = ""): string {
  return `apiVersion: edgefn.dev/v1alpha1\nkind: EdgeFunction\nmetadata:\n  name: ${name}\nspec:\n  source: ./index.ts\n${extra}`;
}

/** A function answering `text` (and its API_KEY secret, if set). */
function fn(name: string, text: string, extra = ""): Record<string, string> {
  return {
    [`functions/${name}/edgefn.yaml`]: manifest(name, extra),
    [`functions/${name}/index.ts`]: `export default {\n  fetch(_req: Request, env: { API_KEY?: string }) {\n    return new Response(${JSON.stringify(text)} + (env.API_KEY === undefined ? "" : " key=" + env.API_KEY));\n  },\n};\n`,
  };
}

async function get(site: SiteHandle, name: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${site.url}/${name}/`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, text: await res.text() };
}

/** Not served at this site (the sites here are on no VAN: 404). */
async function notServed(site: SiteHandle, name: string): Promise<boolean> {
  const { status, text } = await get(site, name);
  return status === 404 && text.includes("ERR_SERVICE_NOT_FOUND");
}

async function gitops(site: SiteHandle): Promise<GitopsStatus> {
  const { status, json } = await site.api("GET", "/v1/gitops");
  if (status !== 200) throw new Error(`GET /v1/gitops at ${site.name}: ${status} ${JSON.stringify(json)}`);
  return json.gitops as GitopsStatus;
}

async function sync(site: SiteHandle): Promise<GitopsStatus> {
  const { status, json } = await site.api("POST", "/v1/gitops/sync");
  if (status !== 200) throw new Error(`POST /v1/gitops/sync at ${site.name}: ${status} ${JSON.stringify(json)}`);
  return json.gitops as GitopsStatus;
}

async function startGitopsSite(name: string, dir: string): Promise<SiteHandle> {
  return startSite(name, { dir, entry: SITE_MAIN, van: false });
}

describe("GitOps: sites pull their functions from git", () => {
  let root: string;
  let server: GitServer;
  let repo: TestRepo;
  const sites: Record<string, SiteHandle> = {};
  const dirs: Record<string, string> = {};
  let webhookToken = "";

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), "edgefn-gitops-"));
    server = await startGitServer({ root: path.join(root, "git"), token: GIT_TOKEN });
    repo = await createRepo(path.join(root, "git"), "fleet");
    await repo.commit({ ...fn("hello", "hello v1"), ...fn("edge-only", "only on edge-1", "  placement:\n    sites: [edge-1]\n") }, "two functions");
    await repo.push();
    for (const name of ["edge-1", "edge-2"]) {
      dirs[name] = path.join(root, name);
      await createSiteDir(dirs[name], { name, region: "test", force: false });
      sites[name] = await startGitopsSite(name, dirs[name]);
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(Object.values(sites).map((s) => s.stop()));
    await server?.stop();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it("attach refuses a repository it cannot pull, and the error says why", async () => {
    const site = sites["edge-1"]!;
    const wrongToken = await site.api("PUT", "/v1/gitops", { repo: server.url("fleet"), gitToken: "wrong" });
    expect(wrongToken.status).toBe(400);
    expect(wrongToken.json.error.code).toBe("ERR_GITOPS_CONFIG");
    expect(wrongToken.json.error.message).toMatch(/credentials|token|401|auth/i);
    const noBranch = await site.api("PUT", "/v1/gitops", { repo: server.url("fleet"), gitToken: GIT_TOKEN, branch: "nope" });
    expect(noBranch.status).toBe(400);
    expect(noBranch.json.error.message).toMatch(/nope/);
    const invalid = await site.api("PUT", "/v1/gitops", { repo: "git@example.com:fleet.git" });
    expect(invalid.status).toBe(400);
    expect((await gitops(site)).attached).toBe(false);
  });

  it("two sites attach to one repository and each runs the functions placed on it", async () => {
    for (const name of ["edge-1", "edge-2"]) {
      const { status, json } = await sites[name]!.api("PUT", "/v1/gitops", { repo: server.url("fleet"), gitToken: GIT_TOKEN, intervalS: 3600 });
      expect(status, JSON.stringify(json)).toBe(200);
      expect(json.gitops.state).toBe("synced");
      expect(json.gitops.applied.commit).toBe(await repo.revParse("main"));
      expect(json.webhook.path).toBe("/v1/gitops/webhook");
      if (name === "edge-1") webhookToken = json.webhook.token;
    }
    expect(await get(sites["edge-1"]!, "hello")).toEqual({ status: 200, text: "hello v1" });
    expect(await get(sites["edge-1"]!, "edge-only")).toEqual({ status: 200, text: "only on edge-1" });
    expect(await get(sites["edge-2"]!, "hello")).toEqual({ status: 200, text: "hello v1" });
    expect(await notServed(sites["edge-2"]!, "edge-only")).toBe(true);

    const two = await gitops(sites["edge-2"]!);
    expect(two.functions.map((f) => [f.name, f.result])).toEqual([["hello", "deployed"]]);
    expect(two.skipped).toEqual([{ name: "edge-only", file: "functions/edge-only/edgefn.yaml", reason: expect.stringMatching(/does not match site edge-2/) }]);
    // The token is the site's to keep: status never shows it, nor the git token.
    expect(JSON.stringify(two)).not.toContain(GIT_TOKEN);
    expect(JSON.stringify(two)).not.toContain(webhookToken);
  });

  it("a push goes live at once through the token-protected webhook", async () => {
    const site = sites["edge-1"]!;
    await repo.commit(fn("hello", "hello v2"), "hello v2");
    await repo.push();

    const hook = (headers: Record<string, string>, body = "{}") =>
      fetch(`${site.controlUrl}/v1/gitops/webhook`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body, signal: AbortSignal.timeout(5_000) });
    expect((await hook({})).status).toBe(401);
    expect((await hook({ authorization: "Bearer wrong" })).status).toBe(401);
    expect((await hook({ "x-hub-signature-256": `sha256=${createHmac("sha256", "wrong").update("{}").digest("hex")}` })).status).toBe(401);
    expect((await get(site, "hello")).text).toBe("hello v1");

    // A push to another branch is accepted and changes nothing.
    const other = JSON.stringify({ ref: "refs/heads/feature" });
    expect((await hook({ authorization: `Bearer ${webhookToken}` }, other)).status).toBe(202);
    await new Promise((r) => setTimeout(r, 500));
    expect((await get(site, "hello")).text).toBe("hello v1");

    const body = JSON.stringify({ ref: "refs/heads/main" });
    const res = await hook({ "x-hub-signature-256": `sha256=${createHmac("sha256", webhookToken).update(body).digest("hex")}` }, body);
    expect(res.status).toBe(202);
    await eventually(async () => (await get(site, "hello")).text === "hello v2", 10_000, "hello v2 at edge-1 after the webhook");
    // edge-2 has an hour-long interval and no webhook call: it still serves v1 until asked.
    expect((await get(sites["edge-2"]!, "hello")).text).toBe("hello v1");
    expect((await sync(sites["edge-2"]!)).state).toBe("synced");
    expect((await get(sites["edge-2"]!, "hello")).text).toBe("hello v2");
    const status = await gitops(site);
    expect(status.functions.find((f) => f.name === "hello")).toMatchObject({ result: "deployed", commit: await repo.revParse("main") });
    expect(status.functions.find((f) => f.name === "edge-only")).toMatchObject({ result: "unchanged" });
  });

  it("renames and removals apply: the new name serves, the old ones are pruned", async () => {
    await repo.rename("functions/hello", "functions/greet", "move hello");
    await repo.commit({ "functions/greet/edgefn.yaml": manifest("greet"), "functions/edge-only": null }, "hello is greet now; edge-only goes");
    await repo.push();
    for (const name of ["edge-1", "edge-2"]) {
      const status = await sync(sites[name]!);
      expect(status.state).toBe("synced");
      expect((await get(sites[name]!, "greet")).text).toBe("hello v2");
      expect(await notServed(sites[name]!, "hello")).toBe(true);
      expect(await notServed(sites[name]!, "edge-only")).toBe(true);
      const results = Object.fromEntries(status.functions.map((f) => [f.name, f.result]));
      expect(results).toEqual(name === "edge-1" ? { greet: "deployed", hello: "removed", "edge-only": "removed" } : { greet: "deployed", hello: "removed" });
    }
  });

  it("a broken commit leaves every function at its last good version; the next good one applies", async () => {
    const site = sites["edge-1"]!;
    await repo.commit({ ...fn("alpha", "alpha v1"), ...fn("zeta", "zeta v1") }, "alpha and zeta");
    await repo.push();
    expect((await sync(site)).state).toBe("synced");

    // A syntax error: nothing of this commit applies, alpha's good change included.
    await repo.commit({ ...fn("alpha", "alpha v2"), "functions/zeta/index.ts": "export default { fetch( {\n" }, "broken zeta");
    await repo.push();
    const broken = await repo.revParse("main");
    let status = await sync(site);
    expect(status.state).toBe("failed");
    expect(status.error).toMatchObject({ code: "ERR_BUILD_FAILED", commit: broken, file: "functions/zeta/index.ts" });
    expect(status.applied?.commit).not.toBe(broken);
    expect((await get(site, "alpha")).text).toBe("alpha v1");
    expect((await get(site, "zeta")).text).toBe("zeta v1");

    // A manifest that does not validate: the error names the file, line and field.
    await repo.commit({ "functions/zeta/index.ts": fn("zeta", "zeta v2")["functions/zeta/index.ts"]!, "functions/zeta/edgefn.yaml": manifest("zeta", "  priority: urgent\n") }, "bad priority");
    await repo.push();
    status = await sync(site);
    expect(status.error).toMatchObject({ code: "ERR_MANIFEST_INVALID", file: "functions/zeta/edgefn.yaml" });
    expect(status.error?.message).toMatch(/functions\/zeta\/edgefn\.yaml:\d+:\d+ +spec\.priority/);

    // It builds, but throws when it loads: alpha, deployed first in this commit, is switched back.
    await repo.commit({ "functions/zeta/edgefn.yaml": manifest("zeta"), "functions/zeta/index.ts": 'throw new Error("zeta cannot start");\nexport default { fetch() { return new Response("never"); } };\n' }, "zeta throws at load");
    await repo.push();
    status = await sync(site);
    expect(status.error).toMatchObject({ code: "ERR_MODULE_LOAD", file: "functions/zeta/edgefn.yaml" });
    expect(status.error?.message).toContain("zeta cannot start");
    expect((await get(site, "alpha")).text).toBe("alpha v1");
    expect((await get(site, "zeta")).text).toBe("zeta v1");

    // The polling agent does not rebuild a commit that failed (only a new commit or a sync does).
    await repo.commit(fn("zeta", "zeta v3"), "zeta fixed");
    await repo.push();
    status = await sync(site);
    expect(status.state).toBe("synced");
    expect(status.error).toBeNull();
    expect((await get(site, "alpha")).text).toBe("alpha v2");
    expect((await get(site, "zeta")).text).toBe("zeta v3");
  });

  it("offline: the site keeps serving, says since when it is behind, and catches up with backoff", async () => {
    const site = sites["edge-2"]!;
    const { status } = await site.api("PUT", "/v1/gitops", { repo: server.url("fleet"), gitToken: GIT_TOKEN, intervalS: 2 });
    expect(status).toBe(200);
    await server.stop();
    const offline = await sync(site);
    expect(offline.state).toBe("offline");
    expect(offline.offlineSince).not.toBeNull();
    expect(offline.error?.code).toBe("ERR_GIT_UNREACHABLE");
    expect((await get(site, "greet")).status).toBe(200);

    await repo.commit(fn("greet", "hello v3"), "hello v3");
    await repo.push();
    await server.start();
    const caughtUp = await eventually(async () => (await get(site, "greet")).text === "hello v3", 10_000, "edge-2 to catch up once the remote is back");
    const after = await gitops(site);
    expect(after.offlineSince).toBeNull();
    expect(after.state).toBe("synced");
    expect(caughtUp).toBeLessThan(10_000);
  });

  it("a sealed secret is opened by its site only", async () => {
    const publicKeyPem = readFileSync(path.join(dirs["edge-1"]!, "keys", "site.pub"), "utf8");
    const sealed = `${JSON.stringify(sealSecret({ publicKeyPem, site: "edge-1", fn: "greet", name: "API_KEY", value: new TextEncoder().encode("s3cret") }), null, 2)}\n`;
    // Put where edge-2 looks too: it must refuse it, naming the file, and change nothing.
    await repo.commit({ "sites/edge-1/secrets/greet.API_KEY.sealed.json": sealed, "sites/edge-2/secrets/greet.API_KEY.sealed.json": sealed }, "seal API_KEY for edge-1");
    await repo.push();
    const one = await sync(sites["edge-1"]!);
    expect(one.state).toBe("synced");
    expect((await get(sites["edge-1"]!, "greet")).text).toBe("hello v3 key=s3cret");
    expect(one.functions.find((f) => f.name === "greet")?.secrets).toEqual(["API_KEY"]);
    const two = await sync(sites["edge-2"]!);
    expect(two.error).toMatchObject({ code: "ERR_SEALED_OTHER_SITE", file: "sites/edge-2/secrets/greet.API_KEY.sealed.json" });
    expect((await get(sites["edge-2"]!, "greet")).text).toBe("hello v3");
    // The value never shows in status or in the site's files outside its state.
    expect(JSON.stringify(one)).not.toContain("s3cret");

    await repo.commit({ "sites/edge-2/secrets/greet.API_KEY.sealed.json": null }, "edge-2 has no key");
    await repo.push();
    expect((await sync(sites["edge-2"]!)).state).toBe("synced");
    // Removing the sealed file removes the secret (prune).
    await repo.commit({ "sites/edge-1/secrets/greet.API_KEY.sealed.json": null }, "drop API_KEY");
    await repo.push();
    expect((await sync(sites["edge-1"]!)).state).toBe("synced");
    expect((await get(sites["edge-1"]!, "greet")).text).toBe("hello v3");
  });

  it("a function changed or removed by hand is put back at the next check (drift)", async () => {
    const site = sites["edge-1"]!;
    const before = (await gitops(site)).functions.find((f) => f.name === "greet")!;
    expect((await site.api("DELETE", "/v1/functions/greet")).status).toBe(200);
    expect(await notServed(site, "greet")).toBe(true);
    const status = await sync(site);
    expect(status.state).toBe("synced");
    expect((await get(site, "greet")).text).toBe("hello v3");
    expect(status.functions.find((f) => f.name === "greet")).toMatchObject({ digest: before.digest });
  });

  it("a restarted site keeps its commit and functions, and redeploys nothing", async () => {
    const before = await gitops(sites["edge-1"]!);
    const versions = before.functions.map((f) => [f.name, f.version]);
    await sites["edge-1"]!.stop();
    sites["edge-1"] = await startGitopsSite("edge-1", dirs["edge-1"]!);
    const site = sites["edge-1"];
    expect((await get(site, "greet")).text).toBe("hello v3");
    const after = await sync(site);
    expect(after.applied?.commit).toBe(before.applied?.commit);
    expect(after.functions.map((f) => [f.name, f.version])).toEqual(versions);
  });

  it("the cli: gitops init writes a layout that a site applies from a local path; status and detach", async () => {
    const fleet = path.join(root, "cli-fleet");
    const cwd = root;
    const init = await runCli(["gitops", "init", fleet, "--site", "edge-2"], { cwd });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain("functions/hello/edgefn.yaml");
    const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@edgefn.invalid", ...args], { cwd: fleet, env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: root } });
    git("init", "--quiet", "-b", "main");
    git("add", "-A");
    git("commit", "--quiet", "-m", "layout");

    const site = sites["edge-2"]!;
    const target = ["--site", site.controlUrl, "--token", site.token];
    const attach = await runCli(["gitops", "attach", "--repo", fleet, "--branch", "main", "--interval", "1h", ...target], { cwd });
    expect(attach.code, attach.stderr).toBe(0);
    expect(attach.stdout).toMatch(/state +synced/);
    expect(attach.stdout).toMatch(/hello +deployed/);
    expect(attach.stdout).toContain(`POST ${site.controlUrl}/v1/gitops/webhook`);
    expect((await get(site, "hello")).status).toBe(200);
    // The previous repository's functions were this agent's: the new one prunes them.
    expect(await notServed(site, "greet")).toBe(true);

    const siteStatus = await runCli(["status", ...target], { cwd });
    expect(siteStatus.stdout).toMatch(new RegExp(`gitops +synced, at [0-9a-f]{12}, from ${fleet.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(main\\)`));

    const status = await runCli(["gitops", "status", "--json", ...target], { cwd });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).gitops).toMatchObject({ attached: true, repo: fleet, state: "synced" });

    // A package the repository does not vendor (hono) resolves from edgefn's own install.
    const hono = path.join(fleet, "functions", "api");
    mkdirSync(hono, { recursive: true });
    writeFileSync(path.join(hono, "edgefn.yaml"), manifest("api"));
    writeFileSync(path.join(hono, "index.ts"), 'import { Hono } from "hono";\nconst app = new Hono();\napp.get("*", (c) => c.json({ hono: true }));\nexport default app;\n');
    git("add", "-A");
    git("commit", "--quiet", "-m", "a hono app");
    const synced = await runCli(["gitops", "sync", ...target], { cwd });
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout).toMatch(/api +deployed/);
    expect(synced.stdout).toMatch(/hello +unchanged/);
    expect(JSON.parse((await get(site, "api")).text)).toEqual({ hono: true });

    // A commit that fails: sync exits 1 and names the file.
    writeFileSync(path.join(hono, "index.ts"), 'import { nope } from "no-such-package";\nexport default { fetch: () => new Response(nope) };\n');
    git("commit", "--quiet", "-am", "a package that is nowhere");
    const failed = await runCli(["gitops", "sync", ...target], { cwd });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/error +ERR_BUILD_FAILED in commit [0-9a-f]{12}, functions\/api\/index\.ts/);
    expect(failed.stderr).toContain("[ERR_GITOPS_FAILED]");
    expect(JSON.parse((await get(site, "api")).text)).toEqual({ hono: true });

    const bad = await runCli(["gitops", "attach", "--repo", path.join(root, "no-such-repo"), ...target], { cwd });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/does not exist/);

    const detach = await runCli(["gitops", "detach", ...target], { cwd });
    expect(detach.code, detach.stderr).toBe(0);
    expect((await gitops(site)).attached).toBe(false);
    expect((await get(site, "hello")).status).toBe(200); // functions stay
  });
});
