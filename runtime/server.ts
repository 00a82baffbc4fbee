/**
 * The public ingress: `/<function>/<path>` runs the function with the prefix removed from the
 * URL it sees, and `/healthz` answers while the process is up. No isolate code here.
 */
import { Hono, type Context } from "hono";
import { concatBytes } from "./bytes.ts";
import { RuntimeError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { accessDenied, type FunctionTable } from "./functions.ts";
import { cannotStartInTime, concurrencyLimit, invoke, type InvokeDeps } from "./invoke.ts";
import type { HeaderList, RequestWire, ResponseWire } from "./isolate/wire.ts";
import { CALLER_HEADER, VAN_DEADLINE_MS, VAN_MAX_REQUEST_BYTES, type CallOptions, type Van } from "./van.ts";

/** A call spilled over the VAN (full here) that no other site takes within this is a 503 here. */
const SPILL_WAIT_MS = 300;

export interface IngressDeps extends InvokeDeps {
  functions: FunctionTable;
  logger: Logger;
  /** Set when the site is on a VAN: functions not deployed here are called over it. */
  van?: Van | undefined;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Names the ingress answers itself; a function cannot be reached at these. */
export const RESERVED_PATHS = ["healthz"] as const;

/** `remoteSite`: the response came over the VAN and names the site that answered. */
type Env = { Variables: { requestId: string; remoteSite: string | undefined } };

export function createIngressApp(deps: IngressDeps): Hono<Env> {
  const app = new Hono<Env>();
  const log = deps.logger.child({ scope: "runtime:http" });

  app.use(async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", requestId);
    await next();
    c.res.headers.set("x-request-id", requestId);
    // A call answered over the VAN keeps the answering site's name.
    c.res.headers.set("x-edgefn-site", c.get("remoteSite") ?? deps.site);
  });

  app.get("/healthz", (c) => c.json({ status: "ok", site: deps.site, functions: deps.functions.list().length, pid: process.pid }));

  const run = async (c: Context<Env>) => {
    const started = performance.now();
    const name = c.req.param("name") ?? "";
    const requestId = c.get("requestId");
    let status = 500;
    try {
      const { response, remoteSite } = await runFunction(deps, c.req.raw, name, requestId);
      c.set("remoteSite", remoteSite);
      status = response.status;
      return response;
    } catch (error) {
      const failure = toRuntimeError(error, log, requestId);
      status = failure.status;
      return failure.toResponse(requestId);
    } finally {
      if (log.isLevelEnabled("info")) {
        const path = c.req.path;
        const ms = Math.round((performance.now() - started) * 10) / 10;
        log.info({ method: c.req.method, path, status, ms, service: name, requestId }, `${c.req.method} ${path} ${status}`);
      }
    }
  };
  app.all("/:name", run);
  app.all("/:name/*", run);

  app.notFound((c) =>
    new RuntimeError("ERR_SERVICE_NOT_FOUND", "no function at this path", {
      status: 404,
      hint: "call /<function-name>/<path>; list functions with `edgefn ls`",
    }).toResponse(c.get("requestId")),
  );
  return app;
}

async function runFunction(
  deps: IngressDeps,
  request: Request,
  name: string,
  requestId: string,
): Promise<{ response: Response; remoteSite?: string | undefined }> {
  const fn = deps.functions.get(name);
  if (fn === undefined && deps.van !== undefined) return runRemote(deps.van, request, name, requestId);
  if (fn === undefined) {
    throw new RuntimeError("ERR_SERVICE_NOT_FOUND", `no function named "${name}" is deployed here`, {
      status: 404,
      hint: "check the name with `edgefn ls`, or deploy it",
    });
  }
  const denied = accessDenied(fn, undefined);
  if (denied !== undefined) throw denied;
  const { limits, priority } = fn.manifest.spec;
  // Full here, or this priority refused while the site is saturated: another site with room
  // takes it over the VAN; none within a moment (or no VAN), the 503 it would get here.
  const refused = deps.admission?.admits(priority) === false ? deps.admission.refusal(name, priority) : undefined;
  const full = refused ?? (fn.inflight >= limits.concurrency ? concurrencyLimit(fn.name, limits.concurrency) : cannotStartInTime(fn));
  if (full !== undefined && deps.van !== undefined) return runRemote(deps.van, request, name, requestId, { afterMs: SPILL_WAIT_MS, error: full });
  if (refused !== undefined) throw refused;
  const body = await readBody(request, fn.manifest.spec.limits.requestBytes, name);
  const wire: RequestWire = {
    method: request.method,
    url: stripPrefix(request.url, name),
    headers: headerList(request.headers),
    body,
  };
  const { head, body: responseBody } = await invoke(deps, fn, wire, requestId);
  return { response: toResponse(request, head, responseBody) };
}

/** A function deployed elsewhere (or full here): one call over the VAN, answered by the nearest able site. */
async function runRemote(van: Van, request: Request, name: string, requestId: string, noRoute?: CallOptions["noRoute"]): Promise<{ response: Response; remoteSite: string | undefined }> {
  const body = await readBody(request, VAN_MAX_REQUEST_BYTES, name);
  const wire: RequestWire = {
    method: request.method,
    url: stripPrefix(request.url, name),
    // Only a service binding may name a caller; a public client may not claim to be one.
    headers: headerList(request.headers).filter(([key]) => key !== CALLER_HEADER),
    body,
  };
  const head = await van.call(name, wire, requestId, Date.now() + VAN_DEADLINE_MS, noRoute === undefined ? {} : { noRoute });
  const site = head.headers.find(([key]) => key === "x-edgefn-site")?.[1];
  return { response: toResponse(request, head, head.body), remoteSite: site };
}

function toResponse(request: Request, head: ResponseWire, body: BodyInit | null): Response {
  // Node frames the body itself; a length from the function could disagree with it.
  const headers = head.headers.filter(([key]) => key !== "content-length" && key !== "transfer-encoding" && key !== "connection");
  const nullBody = head.status === 204 || head.status === 304 || request.method === "HEAD" || (head.status >= 100 && head.status < 200);
  return new Response(nullBody ? null : body, { status: head.status, statusText: head.statusText, headers });
}

/**
 * `/api/items/1?x=2` for function `api` becomes `/items/1?x=2`. String surgery on the
 * absolute URL the server built (scheme://host/path), as the router matched `/<name>`.
 */
export function stripPrefix(url: string, name: string): string {
  const pathStart = url.indexOf("/", url.indexOf("://") + 3);
  const rest = url.slice(pathStart + 1 + name.length);
  return `${url.slice(0, pathStart)}${rest === "" || rest[0] === "?" || rest[0] === "#" ? `/${rest}` : rest}`;
}

function headerList(headers: Headers): HeaderList {
  const list: HeaderList = [];
  headers.forEach((value, key) => list.push([key, value]));
  return list;
}

/** Reads at most `limit` bytes; more is a 413, refused early when content-length says so. */
async function readBody(request: Request, limit: number, name: string): Promise<Uint8Array<ArrayBuffer> | null> {
  // Method first: touching request.body makes @hono/node-server build a full Request.
  if (request.method === "GET" || request.method === "HEAD" || request.body === null) return null;
  const tooLarge = () =>
    new RuntimeError("ERR_BODY_TOO_LARGE", `request body for function "${name}" is larger than ${limit} bytes`, {
      status: 413,
      hint: "send a smaller body, or raise spec.limits.requestBytes in edgefn.yaml",
    });
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (declared > limit) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return concatBytes(chunks, size);
}

function toRuntimeError(error: unknown, log: Logger, requestId: string): RuntimeError {
  if (error instanceof RuntimeError) return error;
  log.error({ requestId, err: error }, "unexpected error serving a request");
  return new RuntimeError("ERR_INTERNAL", "edgefn failed to serve this request", {
    status: 500,
    hint: "this is a bug in edgefn; the runtime log has the details",
    cause: error,
  });
}
