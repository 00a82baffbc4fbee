/**
 * Sites on a VAN for the integration tests: real `runtime/main.ts` processes, each with its own
 * router (EDGEFN_VAN_LISTEN on 127.0.0.1, port 0) and a state directory, linked to each other
 * through the control API exactly as `edgefn token create` / `edgefn link create` do. Every
 * wait is bounded.
 *
 * @example
 * ```ts
 * const cloud = await startSite("cloud");
 * const edge = await startSite("edge-1");
 * await linkSites(edge, cloud, 1);           // edge-1 redeems a token of cloud and dials it
 * await edge.deploy("functions/hello");
 * await waitServed(cloud, "hello", "edge-1");
 * ```
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LinkInfo, LinkToken, SiteStatus, TokenRequest } from "../../runtime/network-api.ts";
import { startRuntime, type RuntimeHandle } from "./runtime.ts";

export interface SiteHandle extends RuntimeHandle {
  name: string;
  /** The VAN (mutual TLS) port. */
  vanPort: number;
  /** The site directory (EDGEFN_STATE_DIR): a restart keeps its network, links and functions. */
  dir: string;
  /** The isolate host's pid (it changes when the supervisor restarts it). */
  workerPid(): Promise<number>;
  /** A control API call; resolves with the status and the parsed body, whatever the status. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  status(): Promise<SiteStatus>;
}

export interface StartSiteOptions {
  trust?: "trusted" | "untrusted";
  /** Reuse a site directory (a restart); default a new temporary one. */
  dir?: string;
  env?: Record<string, string>;
  log?: string;
  /** The process entry (runtime.ts's SITE_MAIN: with the GitOps agent); default runtime/main.ts. */
  entry?: string;
  /** false: no VAN listener (a lone site; `vanPort` is 0). Default true. */
  van?: boolean;
}

const dirs: string[] = [];
process.once("exit", () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

export async function startSite(name: string, opts: StartSiteOptions = {}): Promise<SiteHandle> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), `edgefn-site-${name}-`));
  if (opts.dir === undefined) dirs.push(dir);
  const rt = await startRuntime({
    site: name,
    log: opts.log ?? "info",
    ...(opts.entry === undefined ? {} : { entry: opts.entry }),
    env: { ...(opts.van === false ? {} : { EDGEFN_VAN_LISTEN: "127.0.0.1:0" }), EDGEFN_STATE_DIR: dir, EDGEFN_SITE_TRUST: opts.trust ?? "trusted", ...opts.env },
  });
  const ready = JSON.parse(rt.logs.find((l) => l.includes('"event":"ready"')) ?? "{}") as { vanPort?: number };
  if (typeof ready.vanPort !== "number" && opts.van !== false) throw new Error(`site ${name} printed no vanPort in its ready line: ${rt.logs[0]}`);
  const api: SiteHandle["api"] = async (method, path, body) => {
    const res = await fetch(`${rt.controlUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${rt.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, json: await res.json().catch(() => null) };
  };
  return {
    ...rt,
    name,
    vanPort: ready.vanPort ?? 0,
    dir,
    api,
    async workerPid() {
      const res = await fetch(`${rt.url}/healthz`, { headers: { connection: "close" }, signal: AbortSignal.timeout(5_000) });
      return ((await res.json()) as { pid: number }).pid;
    },
    async status() {
      const { status, json } = await api("GET", "/v1/status");
      if (status !== 200) throw new Error(`status of ${name}: ${status} ${JSON.stringify(json)}`);
      return json as SiteStatus;
    },
  };
}

/** `edgefn token create` at `issuer`. */
export async function issueToken(issuer: SiteHandle, request: TokenRequest = {}): Promise<LinkToken> {
  const { status, json } = await issuer.api("POST", "/v1/tokens", request);
  if (status !== 200) throw new Error(`token create at ${issuer.name}: ${status} ${JSON.stringify(json)}`);
  return json.token as LinkToken;
}

/** `edgefn link create`: `dialler` redeems a token of `issuer` and dials it; resolves once the link is up. */
export async function linkSites(dialler: SiteHandle, issuer: SiteHandle, cost: number, request: TokenRequest = {}): Promise<LinkInfo> {
  const token = await issueToken(issuer, request);
  const { status, json } = await dialler.api("POST", "/v1/links", { token, cost });
  if (status !== 200) throw new Error(`link create at ${dialler.name}: ${status} ${JSON.stringify(json)}`);
  const link = json.link as LinkInfo;
  if (link.state !== "up") throw new Error(`link ${dialler.name} -> ${issuer.name} is ${link.state}: ${link.error}`);
  return link;
}

/** Waits until `viewer` sees `fn` served at `at` (from the routers' database). */
export async function waitServed(viewer: SiteHandle, fn: string, at: string, ms = 5_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const status = await viewer.status();
    if (status.network?.sites.some((s) => s.site === at && s.functions.includes(fn))) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`${viewer.name} does not see ${fn} at ${at} after ${ms} ms: ${JSON.stringify(status.network?.sites)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until `check` holds, polling every 20 ms; throws naming `what` after `ms`. */
export async function eventually(check: () => Promise<boolean>, ms: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
