/**
 * A site, as users run one: `edgefn site init`, `edgefn site up` (a real runtime on
 * 127.0.0.1, ports 0, read from its output), then deploy, ls, logs, rollback, secret and rm
 * with the real bin against it. The tests run in order and share the site: each step
 * starts from what the previous ones deployed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { FunctionInfoSchema } from "../runtime/manifest.ts";
import { mask as maskCommon, runCli, startCli, type RunningCli } from "./helpers/cli.ts";
import { manifestYaml, REPO, useTmpDir, writeFiles } from "./helpers/tmp.ts";

const HELLO = path.join(REPO, "functions", "hello");
const API = path.join(REPO, "functions", "api");

/** Also masks what `deploy` and `ls` print that changes with the code: sizes, short digests. */
function mask(text: string, dirs: Record<string, string> = {}): string {
  return maskCommon(text, dirs)
    .replace(/sha256:[0-9a-f]{12}\b/g, "sha256:<short>")
    .replace(/\d+(\.\d+)? (B|KiB|MiB)\b/g, "<size>");
}

/** The URLs `site up` prints, read from its output. */
async function siteUrls(up: RunningCli): Promise<{ ingress: string; control: string }> {
  const ingress = (await up.waitForLine(/^ {2}ingress {2}http:\/\//)).trim().split(/\s+/)[1]!;
  const control = (await up.waitForLine(/^ {2}control {2}http:\/\//)).trim().split(/\s+/)[1]!;
  return { ingress, control };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

describe("edgefn site init", () => {
  it("writes site.json, a 0600 control token and a key pair, and prints the next step", async () => {
    const cwd = useTmpDir();
    const r = await runCli(["site", "init", "./site-a", "--name", "edge-a", "--region", "eu-west"], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "✓ Created site edge-a (region eu-west, trusted) in site-a
        site-a/site.json
        site-a/control.token  the control token: whoever has it controls the site
        site-a/keys/site.key  the site's private key
        site-a/keys/site.pub

      Next step: start it (in the foreground):
        edgefn site up site-a --http 127.0.0.1:8080 --control 127.0.0.1:9080
      "
    `);
    expect(statSync(path.join(cwd, "site-a/control.token")).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(cwd, "site-a/keys/site.key")).mode & 0o777).toBe(0o600);
    expect(r.stdout).not.toContain(readFileSync(path.join(cwd, "site-a/control.token"), "utf8"));

    const again = await runCli(["site", "init", "./site-a", "--name", "edge-a"], { cwd });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatchInlineSnapshot(`
      "error: site-a is already the site edge-a (region eu-west). [ERR_SITE_EXISTS]
      hint: Choose a new directory, or pass --force to write a new site.json, token and key pair there (state/ is kept; the old token stops working).
      "
    `);
  });
});

describe("a site: deploy, ls, logs, rollback, secret, rm", () => {
  let root: string;
  let siteDir: string;
  let up: RunningCli;
  let ingress: string;
  let control: string;
  let token: string;
  /** How every command finds the site: EDGEFN_SITE and EDGEFN_TOKEN, as the guide says. */
  const env = () => ({ EDGEFN_SITE: control, EDGEFN_TOKEN: token });
  const edgefn = (args: string[], input?: string) => runCli(args, { cwd: REPO, env: env(), ...(input === undefined ? {} : { input }) });

  beforeAll(async () => {
    // In the repo, so copies of functions/ resolve `edgefn` and `hono` as the originals do.
    mkdirSync(path.join(REPO, ".edgefn", "tmp"), { recursive: true });
    root = mkdtempSync(path.join(REPO, ".edgefn", "tmp", "site-int-"));
    siteDir = path.join(root, "site-a");
    const init = await runCli(["site", "init", siteDir, "--name", "edge-a", "--region", "eu-west"], { cwd: root });
    expect(init.code, init.stderr).toBe(0);
    token = readFileSync(path.join(siteDir, "control.token"), "utf8").trim();
    up = startCli(["site", "up", "./site-a", "--http", "127.0.0.1:0", "--control", "127.0.0.1:0"], { cwd: root, stopOnTestFinished: false });
    ({ ingress, control } = await siteUrls(up));
    await up.waitForLine(/Press Ctrl\+C to stop it/);
  });

  afterAll(async () => {
    if (up.child.exitCode === null && up.child.signalCode === null) await up.stop("SIGINT");
    rmSync(root, { recursive: true, force: true });
  });

  it("site up: prints the ingress and control URLs and how to point edgefn at them", () => {
    expect(ingress).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(control).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ingress).not.toBe(control);
    const start = up.lines.findIndex((l) => l.startsWith("✓ Site"));
    expect(mask(up.lines.slice(start, start + 9).join("\n"))).toMatchInlineSnapshot(`
      "✓ Site edge-a (region eu-west) is up
        ingress  http://127.0.0.1:<port>
        control  http://127.0.0.1:<port>

      To deploy to it, from another terminal:
        export EDGEFN_SITE=http://127.0.0.1:<port> EDGEFN_TOKEN=$(cat site-a/control.token)
        edgefn deploy ./fns
      Or let it pull its functions from git:
        edgefn gitops attach --repo <url or path> --branch main"
    `);
  });

  it("deploy: builds, uploads and activates two functions, then prints their URLs", async () => {
    const r = await edgefn(["deploy", HELLO, API]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(mask(r.stdout)).toMatchInlineSnapshot(`
      "› Deploying 2 functions to site edge-a (http://127.0.0.1:<port>)
      ✓ hello  built <size>, sha256:<short>
      ✓ hello  v1 live
      ✓ api    built <size>, sha256:<short>
      ✓ api    v1 live

      Live on site edge-a:
        hello  v1  http://127.0.0.1:<port>/hello/
        api    v1  http://127.0.0.1:<port>/api/
      "
    `);
    expect(r.stdout).toContain(`${ingress}/hello/`);
    expect(await getJson(`${ingress}/hello/`)).toMatchObject({ status: 200, body: { message: "Hello from edge-a!", site: "edge-a" } });
    expect((await getJson(`${ingress}/api/items/1`)).status).toBe(200);
  });

  it("ls: a table by default, the FunctionInfo list with --json", async () => {
    const json = await edgefn(["ls", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const functions = z.array(FunctionInfoSchema).parse(JSON.parse(json.stdout));
    expect(functions.map((f) => [f.name, f.version, f.priority, f.status])).toEqual([
      ["api", 1, "high", "live"],
      ["hello", 1, "normal", "live"],
    ]);

    const table = await edgefn(["ls"]);
    expect(mask(table.stdout).replace(/ \d+s$/gm, " <age>")).toMatchInlineSnapshot(`
      "NAME   VERSION  DIGEST               PRIORITY  STATUS  AGE
      api    v1       sha256:<short>  high      live    <age>
      hello  v1       sha256:<short>  normal    live    <age>
      "
    `);
  });

  it("logs: shows a request's console line; --follow prints new lines until Ctrl+C (exit 0)", async () => {
    await fetch(`${ingress}/hello/from-logs`).then((r) => r.arrayBuffer());
    const r = await edgefn(["logs", "hello"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\[hello\] [0-9a-f]{8} hello: GET \/from-logs$/m);
    expect(r.stdout).toMatch(/^\[hello\] [0-9a-f]{8} GET \/hello\/from-logs 200 \d+ ms$/m);
    expect(r.stdout).not.toMatch(/\[api\]/);

    const follow = startCli(["logs", "hello", "--follow", "--tail", "1"], { cwd: REPO, env: env() });
    // Requests until one shows up: the stream may connect after the first request.
    const seen = follow.waitForLine(/hello: GET \/while-following$/, 20_000);
    const poke = setInterval(() => void fetch(`${ingress}/hello/while-following`).then((res) => res.arrayBuffer(), () => {}), 300);
    try {
      await seen;
    } finally {
      clearInterval(poke);
    }
    expect(await follow.stop("SIGINT")).toBe(0);
  });

  it("rollback: after a second deploy with another GREETING, the previous version answers again", async () => {
    const copy = path.join(root, "hello-howdy");
    writeFiles(copy, {
      "index.ts": readFileSync(path.join(HELLO, "index.ts"), "utf8"),
      "edgefn.yaml": manifestYaml("hello", "  source: ./index.ts\n  env:\n    GREETING: Howdy\n"),
    });
    const deployed = await edgefn(["deploy", copy]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toContain("✓ hello  v2 live");
    expect(await getJson(`${ingress}/hello/`)).toMatchObject({ body: { message: "Howdy from edge-a!" } });

    const r = await edgefn(["rollback", "hello"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(mask(r.stdout)).toMatchInlineSnapshot(`
      "✓ hello: v2 -> v1 (sha256:<short>)
      "
    `);
    expect(await getJson(`${ingress}/hello/`)).toMatchObject({ body: { message: "Hello from edge-a!" } });

    const missing = await edgefn(["rollback", "hello", "--to", "v9"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: .*version 9.* \[ERR_[A-Z_]+\]\nhint: /);
  });

  it("secret put: the value reaches env.API_KEY, is never echoed, and the site's logs redact it", async () => {
    const vault = path.join(root, "vault");
    writeFiles(vault, {
      "edgefn.yaml": manifestYaml("vault"),
      "index.ts":
        'export default { fetch(_req: Request, env: { API_KEY?: string }) { console.log("the key is " + env.API_KEY); return Response.json({ match: env.API_KEY === "s3cret" }); } };\n',
    });
    expect((await edgefn(["deploy", vault])).code).toBe(0);

    const r = await edgefn(["secret", "put", "vault", "API_KEY"], "s3cret\n");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("✓ Set API_KEY for vault\n");
    expect(await getJson(`${ingress}/vault/`)).toEqual({ status: 200, body: { match: true } });

    const logs = await edgefn(["logs", "vault", "--json"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain("the key is [redacted]");
    expect(logs.stdout).not.toContain("s3cret");
    expect(up.lines.join("\n")).not.toContain("s3cret");

    const empty = await edgefn(["secret", "put", "vault", "API_KEY"], "");
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("[ERR_SECRET_EMPTY]");

    const rm = await edgefn(["secret", "rm", "vault", "API_KEY"]);
    expect(rm.stdout).toBe("✓ Removed API_KEY from vault\n");
    expect(await getJson(`${ingress}/vault/`)).toEqual({ status: 200, body: { match: false } });
  });

  it("rm: the function stops answering and leaves the list", async () => {
    const r = await edgefn(["rm", "api"]);
    expect(r.code, r.stderr).toBe(0);
    expect(mask(r.stdout)).toBe("✓ Removed api from http://127.0.0.1:<port>\n");
    expect((await getJson(`${ingress}/api/items/1`)).status).toBe(404);
    const ls = z.array(FunctionInfoSchema).parse(JSON.parse((await edgefn(["ls", "--json"])).stdout));
    expect(ls.map((f) => f.name)).toEqual(["hello", "vault"]);

    const again = await edgefn(["rm", "api"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\[ERR_SERVICE_NOT_FOUND\]\nhint: .*edgefn ls/);
  });

  it("deploy: a function that fails is reported with its fix, the others still deploy, exit 1", async () => {
    const fns = path.join(root, "mixed");
    writeFiles(fns, {
      "broken/edgefn.yaml": manifestYaml("broken"),
      "broken/index.ts": 'import { readFileSync } from "node:fs";\nexport default { fetch() { return new Response(readFileSync("/etc/hostname")); } };\n',
      "fine/edgefn.yaml": manifestYaml("fine"),
      "fine/index.ts": 'export default { fetch() { return new Response("fine"); } };\n',
    });
    const r = await edgefn(["deploy", fns]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^✓ fine +v1 live$/m);
    expect(r.stderr).toMatch(/^error: .*broken.* \[ERR_BUILD_FAILED\]$/m);
    expect(r.stderr).toContain("error: 1 of 2 functions failed to deploy: broken. [ERR_DEPLOY_FAILED]");
    expect(await (await fetch(`${ingress}/fine/`)).text()).toBe("fine");

    const json = await edgefn(["deploy", fns, "--json"]);
    const [results] = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as unknown);
    expect(results).toMatchObject([
      { name: "broken", ok: false, error: { code: "ERR_BUILD_FAILED" } },
      { name: "fine", ok: true, function: { name: "fine", status: "live" } },
    ]);
  });

  it("a wrong token, a stopped site, and --site/--token over the environment", async () => {
    const wrong = await edgefn(["ls", "--token", "not-the-token"]);
    expect(wrong.code).toBe(1);
    expect(mask(wrong.stderr)).toMatchInlineSnapshot(`
      "error: The site at http://127.0.0.1:<port> refused the control token from --token. [ERR_UNAUTHORIZED]
      hint: Use that site's token: it is in <site-dir>/control.token (\`export EDGEFN_TOKEN=$(cat <site-dir>/control.token)\`), or pass it with --token.
      "
    `);

    const dead = `http://127.0.0.1:${await freePort()}`;
    const refused = await runCli(["deploy", HELLO], { cwd: REPO, env: { EDGEFN_SITE: dead, EDGEFN_TOKEN: token } });
    expect(refused.code).toBe(1);
    expect(mask(refused.stderr)).toMatchInlineSnapshot(`
      "error: Could not connect to the site at http://127.0.0.1:<port> (from EDGEFN_SITE): connection refused. [ERR_CONNECTION_REFUSED]
      hint: Is the site running? Start it with \`edgefn site up <site-dir>\`, or point EDGEFN_SITE at its control address.
      "
    `);

    const flags = await runCli(["ls", "--site", control, "--token", token, "--json"], { cwd: REPO, env: { EDGEFN_SITE: dead, EDGEFN_TOKEN: "wrong" } });
    expect(flags.code, flags.stderr).toBe(0);

    const none = await runCli(["ls"], { cwd: REPO });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("[ERR_NO_SITE]");
  });

  it("site up: Ctrl+C stops the site (exit 0); started again, it serves what was deployed", async () => {
    expect(await up.stop("SIGINT")).toBe(0);
    expect(up.lines).toContain("› Stopping site edge-a…");
    await expect(fetch(`${ingress}/hello/`)).rejects.toThrow();

    const again = startCli(["site", "up", siteDir, "--http", "127.0.0.1:0", "--control", "127.0.0.1:0"], { cwd: root });
    const urls = await siteUrls(again);
    const ls = await runCli(["ls", "--json"], { cwd: REPO, env: { EDGEFN_SITE: urls.control, EDGEFN_TOKEN: token } });
    expect(ls.code, ls.stderr).toBe(0);
    const functions = z.array(FunctionInfoSchema).parse(JSON.parse(ls.stdout));
    expect(functions.map((f) => `${f.name} v${f.version}`)).toEqual(["fine v1", "hello v1", "vault v1"]);
    expect(await getJson(`${urls.ingress}/hello/`)).toMatchObject({ body: { message: "Hello from edge-a!" } });
  });
});
