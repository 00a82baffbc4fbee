/**
 * The control-API client against a stand-in site on a loopback socket: what it sends, how it
 * parses answers, and how each failure reads to the user.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import type { LinkInfo, LinkToken } from "../runtime/network-api.ts";
import { errorJSON, renderError } from "./output.ts";
import { createSiteClient, type SiteClient } from "./site-client.ts";
import type { SiteTarget } from "./target.ts";
import { linkToken } from "./commands/van-stand-in.test-helper.ts";

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;

const DIGEST = `sha256:${"ab".repeat(32)}`;
const HELLO = {
  name: "hello",
  version: 2,
  digest: DIGEST,
  priority: "normal",
  status: "live",
  deployedAt: "2026-03-01T12:00:00.000Z",
  url: "http://127.0.0.1:8081/hello/",
  versions: [{ version: 2, digest: DIGEST, deployedAt: "2026-03-01T12:00:00.000Z" }],
  secrets: [],
};

/** A site that answers with `handler`; tests mask its URL as <site>. */
async function startSite(handler: Handler): Promise<{ client: SiteClient; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.on("connection", (s) => onTestFinished(() => void s.destroy()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { client: createSiteClient(target(url)), url };
}

function target(url: string): SiteTarget {
  return { url, token: "t0k3n", from: { url: "EDGEFN_SITE", token: "EDGEFN_TOKEN" } };
}

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));

async function rendered(promise: Promise<unknown>, url: string): Promise<string> {
  const err = await promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
  return renderError(err).join("\n").split(url).join("<site>");
}

describe("site client: requests", () => {
  it("sends the bearer token and parses FunctionInfo", async () => {
    const seen: string[] = [];
    const { client } = await startSite((req, _body, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      json(res, 200, { function: HELLO });
    });
    expect(await client.get("hello")).toEqual(HELLO);
    expect(seen).toEqual(["GET /v1/functions/hello Bearer t0k3n"]);
  });

  it("secret put: sends the raw bytes, not JSON", async () => {
    let got: { type: string | undefined; body: Buffer; url: string | undefined } | undefined;
    const { client } = await startSite((req, body, res) => {
      got = { type: req.headers["content-type"], body, url: req.url };
      json(res, 200, { function: "hello", secret: "API_KEY" });
    });
    await client.putSecret("hello", "API_KEY", new Uint8Array(Buffer.from("s3cret\n")));
    expect(got).toEqual({ type: "application/octet-stream", body: Buffer.from("s3cret\n"), url: "/v1/functions/hello/secrets/API_KEY" });
  });

  it("rollback: sends {version} only when one is asked for", async () => {
    const bodies: string[] = [];
    const { client } = await startSite((_req, body, res) => {
      bodies.push(body.toString());
      json(res, 200, { function: HELLO });
    });
    await client.rollback("hello");
    await client.rollback("hello", 1);
    expect(bodies).toEqual(["{}", '{"version":1}']);
  });

  it("logs: yields each NDJSON line as it is split across chunks, skipping lines that are not log lines", async () => {
    let query: string | undefined;
    const { client } = await startSite((req, _body, res) => {
      query = req.url;
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      const a = JSON.stringify({ ts: 1, level: "info", msg: "first", scope: "fn", service: "hello" });
      const b = JSON.stringify({ ts: 2, level: "warn", msg: "second", scope: "fn", service: "hello", extra: 1 });
      res.write(`${a}\n${b.slice(0, 10)}`);
      setTimeout(() => res.end(`${b.slice(10)}\nnot json\n{"ts":"x"}\n`), 20);
    });
    const lines = [];
    for await (const l of client.logs({ function: "hello", follow: false, tail: 5 })) lines.push(l.line);
    expect(query).toBe("/v1/logs?function=hello&tail=5");
    expect(lines.map((l) => l.msg)).toEqual(["first", "second"]);
    expect(lines[1]).toMatchObject({ extra: 1 }); // unknown fields are kept for --json
  });
});

describe("site client: the VAN routes (runtime/network-api.ts)", () => {
  const TOKEN: LinkToken = linkToken({ expiresAt: "2026-03-01T12:15:00.000Z" });
  const LINK: LinkInfo = { peer: "edge-a", address: "10.0.0.1:5671", cost: 1, state: "up", trust: "trusted", error: null };

  it("createToken: POST /v1/tokens with the request, defaults filled in; returns the token", async () => {
    const seen: string[] = [];
    const { client } = await startSite((req, body, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers["content-type"]} ${body}`);
      json(res, 201, { token: TOKEN });
    });
    expect(await client.createToken({ claimUrl: "http://127.0.0.1:9080/v1/claims" })).toEqual(TOKEN);
    expect(seen).toEqual([
      'POST /v1/tokens application/json {"expiresInS":900,"uses":1,"trust":"trusted","grants":[],"claimUrl":"http://127.0.0.1:9080/v1/claims"}',
    ]);
  });

  it("createLink: POST /v1/links {token, cost}; listLinks; removeLink escapes the peer", async () => {
    const seen: string[] = [];
    const { client } = await startSite((req, body, res) => {
      seen.push(`${req.method} ${req.url} ${body}`);
      if (req.method === "POST") json(res, 201, { link: LINK });
      else if (req.method === "GET") json(res, 200, { links: [LINK] });
      else json(res, 200, { removed: "edge-a" });
    });
    expect(await client.createLink({ token: TOKEN })).toEqual(LINK);
    expect(await client.listLinks()).toEqual([LINK]);
    await client.removeLink("edge-a");
    expect(seen).toEqual([`POST /v1/links ${JSON.stringify({ token: TOKEN, cost: 1 })}`, "GET /v1/links ", "DELETE /v1/links/edge-a "]);
  });

  it("status: GET /v1/status parsed with SiteStatusSchema", async () => {
    const status = { site: "edge-a", region: "local", ingressUrl: "http://127.0.0.1:8080", network: null, functions: [] };
    const { client } = await startSite((_req, _body, res) => json(res, 200, status));
    expect(await client.status()).toEqual(status);
  });

  it("the site's coded error for a VAN route keeps its code and hint", async () => {
    const { client } = await startSite((_req, _body, res) =>
      json(res, 403, { error: { code: "ERR_NOT_CA", message: "edge-b does not hold the network CA", hint: "Create the token on edge-a." } }),
    );
    expect(renderError(await client.createToken({}).catch((e: unknown) => e)).join("\n")).toBe(
      "error: edge-b does not hold the network CA [ERR_NOT_CA]\nhint: Create the token on edge-a.",
    );
  });
});

describe("site client: errors say what happened and what to do", () => {
  it("401: the token is wrong, and where it came from", async () => {
    const { client, url } = await startSite((_req, _body, res) => json(res, 401, { error: { code: "ERR_UNAUTHORIZED", message: "missing or wrong control token" } }));
    expect(await rendered(client.list(), url)).toMatchInlineSnapshot(`
      "error: The site at <site> refused the control token from EDGEFN_TOKEN. [ERR_UNAUTHORIZED]
      hint: Use that site's token: it is in <site-dir>/control.token (\`export EDGEFN_TOKEN=$(cat <site-dir>/control.token)\`), or pass it with --token."
    `);
  });

  it("400 with issues: the site's code, message and hint, and every issue", async () => {
    const { client } = await startSite((_req, _body, res) =>
      json(res, 400, {
        error: {
          code: "ERR_MANIFEST_INVALID",
          message: 'invalid deployment of "hello": manifest.spec.limits.cpuMs: Too big',
          hint: "fix the manifest (edgefn.yaml) and deploy again",
          issues: [
            { path: "manifest.spec.limits.cpuMs", message: "Too big: expected number to be <=30000" },
            { path: "manifest.spec.priority", message: 'Invalid option: expected one of "critical"|"high"' },
          ],
        },
      }),
    );
    const failing = client.deploy("hello", { manifest: { apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name: "hello" } }, bundle: { code: "x", digest: DIGEST } });
    const err = await failing.catch((e: unknown) => e);
    expect(renderError(err).join("\n")).toMatchInlineSnapshot(`
      "error: invalid deployment of "hello": manifest.spec.limits.cpuMs: Too big [ERR_MANIFEST_INVALID]
        manifest.spec.limits.cpuMs: Too big: expected number to be <=30000
        manifest.spec.priority: Invalid option: expected one of "critical"|"high"
      hint: fix the manifest (edgefn.yaml) and deploy again"
    `);
    expect(errorJSON(err)).toMatchObject({ code: "ERR_MANIFEST_INVALID", issues: [{ path: "manifest.spec.limits.cpuMs" }, { path: "manifest.spec.priority" }] });
  });

  it("404 without a hint: points at `edgefn ls`", async () => {
    const { client, url } = await startSite((_req, _body, res) => json(res, 404, { error: { code: "ERR_SERVICE_NOT_FOUND", message: 'no function named "nope" is deployed on this site' } }));
    expect(await rendered(client.remove("nope"), url)).toMatchInlineSnapshot(`
      "error: no function named "nope" is deployed on this site [ERR_SERVICE_NOT_FOUND]
      hint: Run \`edgefn ls\` to see the functions on this site."
    `);
  });

  it("connection refused: names the URL and suggests `edgefn site up`", async () => {
    // A port that was free a moment ago: nothing listens there once the server is closed.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const dead = `http://127.0.0.1:${port}`;
    expect(await rendered(createSiteClient(target(dead)).list(), dead)).toMatchInlineSnapshot(`
      "error: Could not connect to the site at <site> (from EDGEFN_SITE): connection refused. [ERR_CONNECTION_REFUSED]
      hint: Is the site running? Start it with \`edgefn site up <site-dir>\`, or point EDGEFN_SITE at its control address."
    `);
  });

  it("pointed at the ingress: says to use the control URL", async () => {
    const { client, url } = await startSite((_req, _body, res) =>
      json(res, 404, { error: { code: "ERR_SERVICE_NOT_FOUND", message: 'no function named "v1" is deployed here', requestId: "3f2a" } }),
    );
    expect(await rendered(client.list(), url)).toMatchInlineSnapshot(`
      "error: <site> answered GET /v1/functions as a site's ingress does, not as its control API. [ERR_SITE_RESPONSE]
      hint: Point EDGEFN_SITE at the control URL: \`edgefn site up\` prints both, the ingress and the control one."
    `);
  });

  it("an answer that is not edgefn's error: the status, the body, and a check of the URL", async () => {
    const { client, url } = await startSite((_req, _body, res) => res.writeHead(502, { "content-type": "text/html" }).end("<h1>Bad Gateway</h1>"));
    expect(await rendered(client.list(), url)).toMatchInlineSnapshot(`
      "error: The site at <site> answered GET /v1/functions with 502 Bad Gateway, not an edgefn error. [ERR_SITE_RESPONSE]
        <h1>Bad Gateway</h1>
      hint: Check that EDGEFN_SITE is the control API of an edgefn site (\`edgefn site up\` prints it), not its ingress or a proxy."
    `);
  });

  it("a 2xx that does not parse: names the site and the route, with zod's account", async () => {
    const { client, url } = await startSite((_req, _body, res) => json(res, 200, { site: "edge-a", functions: [{ name: "hello" }] }));
    const text = await rendered(client.list(), url);
    expect(text.split("\n")[0]).toBe(
      "error: The site at <site> answered GET /v1/functions with something edgefn does not understand. [ERR_SITE_RESPONSE]",
    );
    expect(text).toContain("functions[0].version");
    expect(text).toContain("hint: Check that EDGEFN_SITE is the control API of an edgefn site (not its ingress)");
  });
});
