/**
 * A stand-in for runtime/main.ts with the same process contract (env in, ready line and JSON
 * log lines out, control API, SIGTERM), so cli tests of `edgefn dev` do not depend on the
 * real runtime. It runs bundles with a plain dynamic import: no isolation, tests only.
 *
 * Env: EDGEFN_HTTP, EDGEFN_CONTROL, EDGEFN_CONTROL_TOKEN, EDGEFN_SITE_NAME (as the real one);
 * FAKE_RUNTIME_FAIL=1 makes it exit 1 before the ready line.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

interface Loaded {
  digest: string;
  fetch: (req: Request, env: Record<string, string>, ctx: Record<string, unknown>) => Promise<Response> | Response;
  env: Record<string, string>;
}

const log = (fields: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ts: Date.now(), ...fields })}\n`);
const env = process.env;
if (env["FAKE_RUNTIME_FAIL"] === "1") {
  process.stderr.write("fake runtime: failing on purpose (listen EADDRINUSE)\n");
  process.exit(1);
}
const functions = new Map<string, Loaded>();
const versions = new Map<string, number>();
let ingressPort = 0;
const site = env["EDGEFN_SITE_NAME"] ?? "local";
const token = env["EDGEFN_CONTROL_TOKEN"] ?? "";

const [httpHost, httpPort] = splitHostPort(env["EDGEFN_HTTP"] ?? "127.0.0.1:0");
const [controlHost, controlPort] = splitHostPort(env["EDGEFN_CONTROL"] ?? "127.0.0.1:0");

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(":");
  return [s.slice(0, i).replace(/^\[|\]$/g, ""), Number(s.slice(i + 1))];
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

const ingress = createServer(async (req, res) => {
  const started = Date.now();
  const requestId = randomUUID();
  const url = new URL(req.url ?? "/", "http://x");
  const [, name = "", ...rest] = url.pathname.split("/");
  const fn = functions.get(name);
  let status = 404;
  if (!fn) {
    sendJSON(res, 404, { error: { code: "ERR_SERVICE_NOT_FOUND", message: `no function ${name}`, requestId } });
  } else {
    const body = await readBody(req);
    const request = new Request(`http://${req.headers.host}/${rest.join("/")}${url.search}`, {
      method: req.method ?? "GET",
      headers: req.headers as Record<string, string>,
      ...(body.length > 0 ? { body: new Uint8Array(body) } : {}),
    });
    const original = globalThis.console;
    globalThis.console = {
      ...original,
      log: (...args: unknown[]) => log({ level: "info", scope: "fn", service: name, requestId, msg: args.join(" ") }),
      warn: (...args: unknown[]) => log({ level: "warn", scope: "fn", service: name, requestId, msg: args.join(" ") }),
    };
    try {
      const response = await fn.fetch(request, fn.env, { site, requestId, waitUntil() {} });
      status = response.status;
      res.writeHead(status, { ...Object.fromEntries(response.headers), "x-request-id": requestId });
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (err) {
      status = 500;
      sendJSON(res, 500, { error: { code: "ERR_FUNCTION_THREW", message: String(err), requestId } });
    } finally {
      globalThis.console = original;
    }
  }
  log({ level: "info", scope: "runtime:http", method: req.method, path: url.pathname, status, ms: Date.now() - started, service: name, requestId });
});

const control = createServer(async (req, res) => {
  if (req.headers.authorization !== `Bearer ${token}`) {
    return sendJSON(res, 401, { error: { code: "ERR_UNAUTHORIZED", message: "bad token" } });
  }
  const name = /^\/v1\/functions\/([^/]+)$/.exec(req.url ?? "")?.[1];
  if (!name) return sendJSON(res, 404, { error: { code: "ERR_NOT_FOUND", message: "no route" } });
  if (req.method === "DELETE") {
    functions.delete(name);
    log({ level: "info", scope: "runtime:store", msg: "removed", service: name });
    return sendJSON(res, 200, { removed: name });
  }
  const body = JSON.parse((await readBody(req)).toString()) as {
    manifest: { spec: { env: Record<string, string>; priority?: string } };
    bundle: { code: string; digest: string };
  };
  try {
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(body.bundle.code).toString("base64")}`)) as {
      default?: { fetch?: Loaded["fetch"] };
    };
    if (typeof mod.default?.fetch !== "function") throw new Error("the bundle has no default export with fetch()");
    functions.set(name, { digest: body.bundle.digest, fetch: mod.default.fetch.bind(mod.default), env: body.manifest.spec.env });
  } catch (err) {
    return sendJSON(res, 400, {
      error: { code: "ERR_MODULE_LOAD", message: `${name}: ${(err as Error).message}`, hint: "export default { fetch }" },
    });
  }
  log({ level: "info", scope: "runtime:store", msg: "deployed", service: name, digest: body.bundle.digest });
  // A FunctionInfo (runtime/manifest.ts), as the real control API answers.
  const version = (versions.get(name) ?? 0) + 1;
  versions.set(name, version);
  const deployedAt = new Date().toISOString();
  sendJSON(res, 200, {
    function: {
      name,
      version,
      digest: body.bundle.digest,
      priority: body.manifest.spec.priority ?? "normal",
      status: "live",
      deployedAt,
      url: `http://${httpHost}:${ingressPort}/${name}/`,
      versions: [{ version, digest: body.bundle.digest, deployedAt }],
      secrets: [],
    },
  });
});

const listen = (server: Server, host: string, port: number) =>
  new Promise<AddressInfo>((resolve) => server.listen(port, host, () => resolve(server.address() as AddressInfo)));
const a = await listen(ingress, httpHost, httpPort);
ingressPort = a.port;
const c = await listen(control, controlHost, controlPort);
log({ level: "debug", scope: "runtime", msg: "starting" });
process.stdout.write(
  `${JSON.stringify({ event: "ready", port: a.port, url: `http://${httpHost}:${a.port}`, controlPort: c.port, controlUrl: `http://${controlHost}:${c.port}` })}\n`,
);
process.on("SIGTERM", () => {
  ingress.close();
  control.close();
  ingress.closeAllConnections();
  process.exit(0);
});
