/**
 * The `edgefn` bin as users run it: `node cli/edgefn.mjs ...` in a temp dir, against loopback
 * processes. Output is checked with inline snapshots (digests, ports and timings masked).
 */
import { spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { DeploymentSchema } from "../runtime/manifest.ts";
import { mask, NODE, runCli, startCli } from "./helpers/cli.ts";
import { manifestYaml, REPO, useTmpDir, writeFiles } from "./helpers/tmp.ts";

const TSC = path.join(REPO, "node_modules", "typescript", "bin", "tsc");

describe("edgefn (no command)", () => {
  it("prints usage and exits 2 for an unknown command", async () => {
    const cwd = useTmpDir();
    const r = await runCli(["deploi"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n").slice(0, 2).join("\n")).toMatchInlineSnapshot(`
      "error: Unknown command "deploi". [ERR_USAGE]
      hint: Commands: init, build, dev, invoke, deploy, ls, logs, rollback, rm, secret, site, token, link, gitops, status, manifests. Run \`edgefn --help\` for details."
    `);
    expect(r.stderr).toContain("Usage: edgefn <command> [options]");
  });

  it("prints the version", async () => {
    const r = await runCli(["--version"], { cwd: useTmpDir() });
    const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string };
    expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });
});

describe("edgefn init", () => {
  it("scaffolds index.ts, edgefn.yaml and tsconfig.json named after the directory", async () => {
    const cwd = useTmpDir({ inRepo: true });
    const r = await runCli(["init", "./fns/my-fn"], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "✓ Created function my-fn in fns/my-fn from the hello template
        fns/my-fn/edgefn.yaml
        fns/my-fn/index.ts
        fns/my-fn/tsconfig.json

      Next steps:
        edgefn dev fns --port 8787      # serve every function under fns, reload on save
        curl http://127.0.0.1:8787/my-fn/
      "
    `);
    const yaml = readFileSync(path.join(cwd, "fns/my-fn/edgefn.yaml"), "utf8");
    expect(yaml).toMatch(/^metadata:\n {2}name: my-fn$/m);
    expect(yaml).toMatch(/^#/); // the template's comments survive
  });

  it("writes a tsconfig under which the template typechecks and Node globals do not", async () => {
    const cwd = useTmpDir({ inRepo: true });
    expect((await runCli(["init", "fn", "--template", "api"], { cwd })).code).toBe(0);
    const tsc = (dir: string) => spawnSync(NODE, [TSC, "-p", path.join(dir, "tsconfig.json")], { encoding: "utf8" });
    const ok = tsc(path.join(cwd, "fn"));
    expect(ok.stdout + ok.stderr).toBe("");
    expect(ok.status).toBe(0);

    writeFileSync(path.join(cwd, "fn", "node.ts"), "export const home = process.env.HOME;\n");
    const bad = tsc(path.join(cwd, "fn"));
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toContain("Cannot find name 'process'");
  });

  it("refuses a non-empty directory unless --force", async () => {
    const cwd = useTmpDir();
    writeFiles(cwd, { "hello/notes.txt": "mine" });
    const r = await runCli(["init", "hello"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatchInlineSnapshot(`
      "error: hello already exists and is not empty. [ERR_DIR_NOT_EMPTY]
      hint: Choose a new directory, or pass --force to write the template's files into it.
      "
    `);
    const forced = await runCli(["init", "hello", "--force", "--json"], { cwd });
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ name: "hello", template: "hello" });
    expect(readFileSync(path.join(cwd, "hello/notes.txt"), "utf8")).toBe("mine");
  });

  it("explains an invalid function name and suggests one", async () => {
    const r = await runCli(["init", "My_Func"], { cwd: useTmpDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatchInlineSnapshot(`
      "error: "My_Func" (the directory's name) is not a valid function name: it must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit. [ERR_INVALID_NAME]
      hint: Function names become URL paths and service names. Use e.g. --name my-func, or rename the directory.
      "
    `);
  });

  it("names the templates when asked for one that does not exist", async () => {
    const r = await runCli(["init", "x", "--template", "nope"], { cwd: useTmpDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('There is no template "nope". [ERR_TEMPLATE_NOT_FOUND]');
    expect(r.stderr).toContain("hint: Templates: hello, api, json, fetch");
  });
});

describe("edgefn build", () => {
  const HELLO = `import type { EdgeFunction } from "edgefn";
interface Env { GREETING?: string }
export default {
  fetch(request, env) {
    return new Response(\`\${env.GREETING ?? "Hello"} \${new URL(request.url).pathname}\`);
  },
} satisfies EdgeFunction<Env>;
`;

  it("writes the bundle, its map and the deployment payload, and prints size and digest", async () => {
    const cwd = useTmpDir();
    writeFiles(cwd, { "fns/hello/edgefn.yaml": manifestYaml("hello", "  env: { GREETING: Hi }\n"), "fns/hello/index.ts": HELLO });
    const r = await runCli(["build", "./fns/hello", "--out", "./dist"], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(mask(r.stdout)).toMatchInlineSnapshot(`
      "✓ Built hello
        bundle  dist/hello/index.js  192 B
        digest  sha256:<digest>
        deploy  dist/hello/deployment.json
      "
    `);
    const code = readFileSync(path.join(cwd, "dist/hello/index.js"), "utf8");
    const digest = `sha256:${createHash("sha256").update(code, "utf8").digest("hex")}`;
    expect(r.stdout).toContain(digest);
    const deployment = DeploymentSchema.parse(JSON.parse(readFileSync(path.join(cwd, "dist/hello/deployment.json"), "utf8")));
    expect(deployment.bundle).toEqual({ code, digest, sourceMap: readFileSync(path.join(cwd, "dist/hello/index.js.map"), "utf8") });
    expect(deployment.manifest.spec.env).toEqual({ GREETING: "Hi" });

    const json = await runCli(["build", "fns", "--out", "dist", "--json"], { cwd });
    expect(JSON.parse(json.stdout)).toEqual({
      functions: [
        {
          name: "hello",
          manifest: path.join(cwd, "fns/hello/edgefn.yaml"),
          bundle: path.join(cwd, "dist/hello/index.js"),
          sourceMap: path.join(cwd, "dist/hello/index.js.map"),
          deployment: path.join(cwd, "dist/hello/deployment.json"),
          bytes: Buffer.byteLength(code),
          digest,
        },
      ],
    });
  });

  it("fails with file:line and the fix for a Node built-in import", async () => {
    const cwd = useTmpDir();
    writeFiles(cwd, {
      "fns/hello/edgefn.yaml": manifestYaml("hello"),
      "fns/hello/index.ts": `import { readFileSync } from "node:fs";\nexport default { fetch: () => new Response(readFileSync("/etc/hostname")) };\n`,
    });
    const r = await runCli(["build", "fns/hello"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatchInlineSnapshot(`
      "error: Build of fns/hello/index.ts failed with 1 error. [ERR_BUILD_FAILED]
        fns/hello/index.ts:1:30: Cannot import the Node.js built-in module "node:fs": edge functions run in a V8 isolate with Web APIs only.
          1 | import { readFileSync } from "node:fs";
            |                              ^^^^^^^^^
          Remove this import and read configuration from env (spec.env, spec.secrets) and data over fetch(); there is no file system. If a dependency imports it, choose a version made for Workers/browsers.
      hint: Fix the errors above; each names the file and line.
      "
    `);
  });

  it("names the file, line and field of an invalid manifest", async () => {
    const cwd = useTmpDir();
    writeFiles(cwd, {
      "fns/hello/edgefn.yaml": manifestYaml("hello", "  limits:\n    cpuMs: 0\n    memMb: 64\n"),
      "fns/hello/index.ts": HELLO,
    });
    const r = await runCli(["build", "fns", "--json"], { cwd });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchInlineSnapshot(`
      {
        "error": {
          "code": "ERR_MANIFEST_INVALID",
          "details": "fns/hello/edgefn.yaml:7:12  spec.limits.cpuMs: Too small: expected number to be >=1
      fns/hello/edgefn.yaml:8:5  spec.limits.memMb: unknown field "memMb"",
          "hint": "Fix the fields listed above. \`edgefn init <dir>\` writes a valid edgefn.yaml to start from.",
          "message": "fns/hello/edgefn.yaml is not a valid EdgeFunction manifest.",
        },
      }
    `);
  });

  it("rejects a bad flag with usage and exit 2", async () => {
    const r = await runCli(["build", "--outdir", "x"], { cwd: useTmpDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: Unknown option --outdir\. \[ERR_USAGE\]\n\nBundle functions/);
  });
});

/** A loopback server that answers by path: /echo/* echoes the request, /oops/* fails. */
async function startUpstream(): Promise<string> {
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    if (req.url?.startsWith("/echo/")) {
      res.writeHead(200, { "content-type": "application/json", "x-test": "yes" });
      res.end(JSON.stringify({ method: req.method, url: req.url, type: req.headers["content-type"] ?? null, body }));
    } else if (req.url?.startsWith("/oops/")) {
      res.writeHead(500, { "content-type": "application/json; charset=utf-8", "x-request-id": "req-42" });
      res.end(JSON.stringify({ error: { code: "ERR_FUNCTION_THREW", message: "oops threw: TypeError: x is undefined", hint: "See the function's log lines for the stack." } }));
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not here\n");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("edgefn invoke", () => {
  it("sends method, body and headers to <url>/<name><path> and prints the body", async () => {
    const url = await startUpstream();
    const cwd = useTmpDir();
    const r = await runCli(
      ["invoke", "echo", "/some/path?q=1", "--url", url, "--method", "POST", "--data", '{"a":1}', "-H", "content-type: application/json"],
      { cwd },
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ method: "POST", url: "/echo/some/path?q=1", type: "application/json", body: '{"a":1}' });
    expect(mask(r.stderr)).toBe(`HTTP 200 OK POST http://127.0.0.1:<port>/echo/some/path?q=1 (<n> ms)\n`);
  });

  it("prints the status line and headers with --include, reads --data @file, POSTs by default with data", async () => {
    const url = await startUpstream();
    const cwd = useTmpDir();
    writeFiles(cwd, { "body.txt": "from a file" });
    const r = await runCli(["invoke", "echo", "x", "--url", url, "-d", "@body.txt", "-i"], { cwd });
    expect(r.code).toBe(0);
    const [head, body] = r.stdout.split("\n\n");
    expect(head?.split("\n")[0]).toBe("HTTP 200 OK");
    expect(head).toContain("x-test: yes");
    expect(JSON.parse(body!)).toMatchObject({ method: "POST", url: "/echo/x", body: "from a file" });
  });

  it("prints status, headers and parsed body as one JSON object with --json", async () => {
    const url = await startUpstream();
    const r = await runCli(["invoke", "echo", "--url", url, "--json"], { cwd: useTmpDir() });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      url: `${url}/echo/`,
      method: "GET",
      status: 200,
      statusText: "OK",
      headers: { "x-test": "yes" },
      body: { method: "GET", url: "/echo/", body: "" },
    });
  });

  it("renders an edgefn error answer and exits 1", async () => {
    const url = await startUpstream();
    const r = await runCli(["invoke", "oops", "--url", url], { cwd: useTmpDir() });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(mask(r.stderr)).toMatchInlineSnapshot(`
      "HTTP 500 Internal Server Error GET http://127.0.0.1:<port>/oops/ (<n> ms)
      error: oops threw: TypeError: x is undefined [ERR_FUNCTION_THREW]
        request id: req-42
      hint: See the function's log lines for the stack.
      "
    `);
  });

  it("prints the body of any other non-2xx answer and exits 1", async () => {
    const url = await startUpstream();
    const r = await runCli(["invoke", "missing", "--url", url], { cwd: useTmpDir() });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("not here\n");
    expect(mask(r.stderr)).toMatchInlineSnapshot(`
      "HTTP 404 Not Found GET http://127.0.0.1:<port>/missing/ (<n> ms)
      error: missing answered 404 Not Found. [ERR_HTTP_STATUS]
      hint: The function returned this status itself; its body is printed above.
      "
    `);
  });

  it("names the URL and suggests edgefn dev when nothing listens", async () => {
    // A port that was free a moment ago: nothing listens there now.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const r = await runCli(["invoke", "hello", "--url", `http://127.0.0.1:${port}`], { cwd: useTmpDir() });
    expect(r.code).toBe(1);
    expect(mask(r.stderr)).toMatchInlineSnapshot(`
      "error: Could not connect to http://127.0.0.1:<port>/hello/: connection refused. [ERR_CONNECTION_REFUSED]
      hint: Is a runtime listening there? Start one with \`edgefn dev <dir>\`, or pass its address with --url.
      "
    `);
  });

  it.each([
    [["invoke", "Bad_Name"], 'Invalid <name> "Bad_Name": must be a DNS-1123 label'],
    [["invoke", "hello", "-H", "no-colon"], "Invalid --header: must look like \"name: value\"."],
    [["invoke", "hello", "--url", "ftp://x"], 'Invalid --url "ftp://x": must be an http:// or https:// URL.'],
  ])("%j is a usage error", async (argv, message) => {
    const r = await runCli(argv, { cwd: useTmpDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

// The real runtime (runtime/main.ts, isolated-vm) end to end. cli/dev-session.test.ts covers
// the same flow against a stand-in runtime.
describe("edgefn dev (real runtime)", () => {
  const source = (reply: string) => `export default {
  fetch(request: Request): Response {
    console.log("serving " + new URL(request.url).pathname);
    return new Response(${JSON.stringify(reply)});
  },
};
`;

  it("dev: serves two functions, hot-reloads one while requests keep succeeding, shows console lines", async () => {
    const cwd = useTmpDir();
    writeFiles(cwd, {
      "fns/alpha/edgefn.yaml": manifestYaml("alpha"),
      "fns/alpha/index.ts": source("alpha v1"),
      "fns/beta/edgefn.yaml": manifestYaml("beta"),
      "fns/beta/index.ts": source("beta v1"),
    });
    const dev = startCli(["dev", "./fns", "--port", "0"], { cwd });
    const alphaLine = await dev.waitForLine(/✓ alpha\s+http:\/\//, 45_000);
    await dev.waitForLine(/✓ beta\s+http:\/\//);
    const alpha = alphaLine.split(/\s+/).at(-1)!;
    const beta = alpha.replace("/alpha/", "/beta/");

    expect(await (await fetch(`${alpha}some/path`)).text()).toBe("alpha v1");
    expect(await (await fetch(beta)).text()).toBe("beta v1");

    // Keep calling alpha while it is rebuilt and redeployed: no request may fail.
    const failures: string[] = [];
    let calls = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          const res = await fetch(alpha);
          const text = await res.text();
          calls += 1;
          if (!res.ok) failures.push(`${res.status} ${text}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    })();
    writeFileSync(path.join(cwd, "fns/alpha/index.ts"), source("alpha v2"));
    await dev.waitForLine(/✓ Reloaded alpha/, 20_000);
    const deadline = Date.now() + 10_000;
    while ((await (await fetch(alpha)).text()) !== "alpha v2") {
      if (Date.now() > deadline) throw new Error("alpha never served v2");
      await new Promise((r) => setTimeout(r, 50));
    }
    polling = false;
    await poller;
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(0);
    expect(await (await fetch(beta)).text()).toBe("beta v1");
    expect(dev.lines.some((l) => /rebuilding beta/.test(l))).toBe(false);

    // The function's console.log comes out as `[alpha] <request id> msg`.
    const requestId = randomUUID();
    const res = await fetch(`${alpha}traced`, { headers: { "x-request-id": requestId } });
    const servedId = res.headers.get("x-request-id") ?? requestId;
    await dev.waitForLine(new RegExp(`^\\[alpha\\] ${servedId.slice(0, 8)}\\S* serving /traced$`), 10_000);

    expect(await dev.stop("SIGINT")).toBe(0);
  });
});
