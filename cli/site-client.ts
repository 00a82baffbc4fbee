/**
 * A typed client for a site's control API (the route list is in runtime/manifest.ts): one
 * function per route, every response parsed with the runtime's own schemas. Failures are
 * errors the cli renders by duck typing (cli/site-errors.ts).
 */
import { z } from "zod";
import {
  FunctionInfoSchema,
  FunctionNameSchema,
  LogLineSchema,
  SecretNameSchema,
  SiteInfoSchema,
  type DeploymentInput,
  type FunctionInfo,
  type LogLine,
  type SiteInfo,
} from "../runtime/manifest.ts";
import {
  LinkInfoSchema,
  LinkRequestSchema,
  LinkTokenSchema,
  SiteNameSchema,
  SiteStatusSchema,
  TokenRequestSchema,
  type LinkInfo,
  type LinkRequest,
  type LinkToken,
  type SiteStatus,
  type TokenRequest,
} from "../runtime/network-api.ts";
import { GitopsStatusSchema, WebhookInfoSchema, type GitopsAttach, type GitopsStatus, type WebhookInfo } from "../runtime/gitops-api.ts";
import { CliError } from "./errors.ts";
import { connectionError, errorOf, reasonOf } from "./site-errors.ts";
import type { SiteTarget } from "./target.ts";

const FunctionListSchema = z.object({ site: z.string(), functions: z.array(FunctionInfoSchema) });
const OneFunctionSchema = z.object({ function: FunctionInfoSchema });
const RemovedSchema = z.object({ removed: FunctionNameSchema });
/** The secret routes answer with names only; `function` may be the name or its FunctionInfo. */
const SecretAckSchema = z.object({ function: z.union([FunctionNameSchema, FunctionInfoSchema]), secret: SecretNameSchema });
const OneTokenSchema = z.object({ token: LinkTokenSchema });
const OneLinkSchema = z.object({ link: LinkInfoSchema });
const LinkListSchema = z.object({ links: z.array(LinkInfoSchema) });
const LinkRemovedSchema = z.object({ removed: SiteNameSchema });
const OneGitopsSchema = z.object({ gitops: GitopsStatusSchema });
const AttachedSchema = z.object({ gitops: GitopsStatusSchema, webhook: WebhookInfoSchema });

export interface LogsQuery {
  /** Only this function's lines; all of the site's lines when absent. */
  function?: string;
  /** Keep the stream open for new lines until `signal` aborts. */
  follow?: boolean;
  /** How many recent lines to start with (the site's default when absent). */
  tail?: number;
  signal?: AbortSignal;
}

export interface SiteClient {
  readonly target: SiteTarget;
  site(): Promise<SiteInfo>;
  list(): Promise<{ site: string; functions: FunctionInfo[] }>;
  get(name: string): Promise<FunctionInfo>;
  /** Uploads a deployment; the site verifies it, then switches traffic to it. */
  deploy(name: string, deployment: DeploymentInput): Promise<FunctionInfo>;
  /** Serves `version` again, by default the one before the current one. */
  rollback(name: string, version?: number): Promise<FunctionInfo>;
  remove(name: string): Promise<void>;
  putSecret(name: string, secret: string, value: Uint8Array): Promise<void>;
  removeSecret(name: string, secret: string): Promise<void>;
  /** The site's log lines as they come; lines that are not log lines are skipped. */
  logs(query: LogsQuery): AsyncIterable<{ line: LogLine; raw: string }>;
  /** A one-time link token another site redeems to link to this one (needs the network CA). */
  createToken(request: TokenRequest): Promise<LinkToken>;
  /** Redeems `request.token` at its issuer and links this site to it. */
  createLink(request: LinkRequest): Promise<LinkInfo>;
  listLinks(): Promise<LinkInfo[]>;
  removeLink(peer: string): Promise<void>;
  /** The site, its VAN (links, the sites it reaches) and its functions. */
  status(): Promise<SiteStatus>;
  /** Points the site's GitOps agent at a repository; resolves after its first sync. */
  gitopsAttach(request: GitopsAttach): Promise<{ gitops: GitopsStatus; webhook: WebhookInfo }>;
  gitopsStatus(): Promise<GitopsStatus>;
  /** Fetches and applies now; resolves with the status after it. */
  gitopsSync(): Promise<GitopsStatus>;
  gitopsDetach(): Promise<void>;
}

export interface SiteClientOptions {
  /** Per request, except the log stream; deploys include the site's verification. */
  timeoutMs?: number;
}

export function createSiteClient(target: SiteTarget, opts: SiteClientOptions = {}): SiteClient {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const fn = (name: string) => `/v1/functions/${encodeURIComponent(name)}`;

  /** Sends one request; resolves with a 2xx response, throws a renderable error otherwise. */
  async function send(method: string, path: string, init: { body?: BodyInit; type?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const url = `${target.url}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${target.token}`, ...(init.type === undefined ? {} : { "content-type": init.type }) },
        ...(init.body === undefined ? {} : { body: init.body }),
        signal: init.signal ?? AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw connectionError(err, target, `${method} ${path}`, timeoutMs);
    }
    if (res.ok) return res;
    throw errorOf(res, await res.text().catch(() => ""), target, `${method} ${path}`);
  }

  async function call<S extends z.ZodType>(schema: S, method: string, path: string, init?: { body?: BodyInit; type?: string }): Promise<z.output<S>> {
    const res = await send(method, path, init);
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = schema.safeParse(json);
    if (parsed.success) return parsed.data;
    throw new CliError("ERR_SITE_RESPONSE", `The site at ${target.url} answered ${method} ${path} with something edgefn does not understand.`, {
      details: json === undefined ? `not JSON: ${text.slice(0, 200)}` : z.prettifyError(parsed.error),
      hint: `Check that ${target.from.url} is the control API of an edgefn site (not its ingress), and that the site runs the same edgefn version as this cli.`,
    });
  }

  return {
    target,
    site: () => call(SiteInfoSchema, "GET", "/v1/site"),
    list: () => call(FunctionListSchema, "GET", "/v1/functions"),
    get: async (name) => (await call(OneFunctionSchema, "GET", fn(name))).function,
    async deploy(name, deployment) {
      const body = JSON.stringify(deployment);
      return (await call(OneFunctionSchema, "PUT", fn(name), { body, type: "application/json" })).function;
    },
    async rollback(name, version) {
      const body = JSON.stringify(version === undefined ? {} : { version });
      return (await call(OneFunctionSchema, "POST", `${fn(name)}/rollback`, { body, type: "application/json" })).function;
    },
    async remove(name) {
      await call(RemovedSchema, "DELETE", fn(name));
    },
    async putSecret(name, secret, value) {
      const body = new Uint8Array(value);
      await call(SecretAckSchema, "PUT", `${fn(name)}/secrets/${encodeURIComponent(secret)}`, { body, type: "application/octet-stream" });
    },
    async removeSecret(name, secret) {
      await call(SecretAckSchema, "DELETE", `${fn(name)}/secrets/${encodeURIComponent(secret)}`);
    },
    async createToken(request) {
      const body = JSON.stringify(TokenRequestSchema.parse(request));
      return (await call(OneTokenSchema, "POST", "/v1/tokens", { body, type: "application/json" })).token;
    },
    async createLink(request) {
      const body = JSON.stringify(LinkRequestSchema.parse(request));
      return (await call(OneLinkSchema, "POST", "/v1/links", { body, type: "application/json" })).link;
    },
    listLinks: async () => (await call(LinkListSchema, "GET", "/v1/links")).links,
    async removeLink(peer) {
      await call(LinkRemovedSchema, "DELETE", `/v1/links/${encodeURIComponent(peer)}`);
    },
    status: () => call(SiteStatusSchema, "GET", "/v1/status"),
    async gitopsAttach(request) {
      const body = JSON.stringify(request);
      return call(AttachedSchema, "PUT", "/v1/gitops", { body, type: "application/json" });
    },
    gitopsStatus: async () => (await call(OneGitopsSchema, "GET", "/v1/gitops")).gitops,
    gitopsSync: async () => (await call(OneGitopsSchema, "POST", "/v1/gitops/sync")).gitops,
    async gitopsDetach() {
      await call(z.object({ detached: z.literal(true) }), "DELETE", "/v1/gitops");
    },
    async *logs(query) {
      const params = new URLSearchParams();
      if (query.function !== undefined) params.set("function", query.function);
      if (query.follow) params.set("follow", "true");
      if (query.tail !== undefined) params.set("tail", String(query.tail));
      const path = `/v1/logs?${params}`;
      // No timeout: a followed stream stays open for as long as the user watches it.
      const res = await send("GET", path, { signal: query.signal ?? new AbortController().signal });
      if (res.body === null) return;
      try {
        for await (const raw of splitLines(res.body)) {
          const parsed = LogLineSchema.safeParse(safeJSON(raw));
          if (parsed.success) yield { line: parsed.data, raw };
        }
      } catch (err) {
        if (query.signal?.aborted) throw err;
        throw new CliError("ERR_CONNECTION_FAILED", `The log stream from ${target.url} broke off: ${reasonOf(err)}.`, {
          hint: "Did the site stop? Check the terminal running `edgefn site up`, then run `edgefn logs` again.",
          cause: err,
        });
      }
    },
  };
}

async function* splitLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffered = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let at: number;
      while ((at = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, at).trim();
        buffered = buffered.slice(at + 1);
        if (line !== "") yield line;
      }
    }
  } finally {
    // A consumer that stops early closes the connection too.
    reader.cancel().catch(() => {});
  }
  buffered += decoder.decode();
  if (buffered.trim() !== "") yield buffered.trim();
}

function safeJSON(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
