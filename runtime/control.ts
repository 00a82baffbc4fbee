/**
 * The control API, on its own listener: the routes listed at the end of manifest.ts. Every
 * route needs `Authorization: Bearer <token>`, compared in constant time; without it nothing
 * changes. Secrets go in and are never returned.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import { stream } from "hono/streaming";
import { z } from "zod";
import { RuntimeError } from "./errors.ts";
import { GitopsAttachSchema, type GitopsAgent } from "./gitops-api.ts";
import type { Logger } from "./log.ts";
import type { LogTap } from "./log-tap.ts";
import { DeploymentSchema, FunctionNameSchema, RollbackRequestSchema, SecretNameSchema, type LogLine } from "./manifest.ts";
import type { Network } from "./network.ts";
import { SiteNameSchema, TokenRequestSchema, type SiteStatus } from "./network-api.ts";
import type { Site } from "./site.ts";

export interface ControlDeps {
  site: Site;
  logs: LogTap;
  token: string;
  logger: Logger;
  /** The site's network and router: the VAN routes answer ERR_NO_VAN without them. */
  van?: { network: Network; router: { consumers(address: string): unknown[] }; port: number; listen: { host: string; port: number } } | undefined;
  /** The site process's GitOps agent: the /v1/gitops routes answer ERR_NO_GITOPS without it. */
  gitops?: GitopsAgent | undefined;
}

/** Largest webhook body read (push events of big pushes are a few hundred KB). */
const MAX_WEBHOOK_BYTES = 4 * 1024 * 1024;

/** Largest secret value accepted. */
const MAX_SECRET_BYTES = 64 * 1024;

const LogQuerySchema = z.object({
  function: FunctionNameSchema.optional(),
  follow: z.enum(["true", "false", "1", "0"]).default("false"),
  tail: z.coerce.number().int().min(0).max(2_000).default(100),
});

export function createControlApp(deps: ControlDeps): Hono {
  const app = new Hono();
  const expected = createHash("sha256").update(deps.token).digest();
  const log = deps.logger.child({ scope: "runtime:control" });

  app.onError((error, c) => {
    const failure =
      error instanceof RuntimeError
        ? error
        : new RuntimeError("ERR_INTERNAL", "the control API failed", { hint: "this is a bug in edgefn; see the runtime log", cause: error });
    if (failure.status >= 500) log.error({ err: error, code: failure.code }, failure.message);
    return c.newResponse(JSON.stringify({ error: failure.toJSON() }), failure.status as 500, {
      "content-type": "application/json; charset=utf-8",
      ...failure.headers,
    });
  });

  const needVan = () => {
    if (deps.van !== undefined) return deps.van;
    throw new RuntimeError("ERR_NO_VAN", `site ${deps.site.info().name} runs without a VAN`, {
      status: 409,
      hint: "start it with one: `edgefn site up <dir> --van <host:port>`",
    });
  };

  const needGitops = () => {
    if (deps.gitops !== undefined) return deps.gitops;
    throw new RuntimeError("ERR_NO_GITOPS", `site ${deps.site.info().name} runs no GitOps agent`, {
      status: 409,
      hint: "start the site with `edgefn site up <dir>` (the runtime image pulls with Flux instead: `edgefn manifests --flux`)",
    });
  };

  // Before the bearer check: a git server holds the webhook token, not the control token.
  app.post("/v1/gitops/webhook", async (c) => {
    const agent = needGitops();
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.byteLength > MAX_WEBHOOK_BYTES) throw new RuntimeError("ERR_MANIFEST_INVALID", `the webhook body is larger than ${MAX_WEBHOOK_BYTES} bytes`, { status: 413 });
    if (!agent.webhook(c.req.raw.headers, body)) {
      throw new RuntimeError("ERR_WEBHOOK_UNAUTHORIZED", "missing or wrong webhook token", {
        status: 401,
        hint: "send the token `edgefn gitops attach` printed: Authorization: Bearer <token>, X-Gitlab-Token, or as the secret of a GitHub/Gitea webhook (X-Hub-Signature-256)",
      });
    }
    return c.json({ accepted: true }, 202);
  });

  // Before the bearer check: the token's one-time secret is this route's credential.
  app.post("/v1/claims", async (c) => c.json(await needVan().network.redeem(await readJson(c.req.raw, "POST a Claim (runtime/network-api.ts)"))));

  app.use(async (c, next) => {
    // Tells clients they reached the control API, not the ingress (a common mix-up).
    c.header("x-edgefn-control", "1");
    const header = c.req.header("authorization") ?? "";
    const given = createHash("sha256").update(header.replace(/^Bearer\s+/i, "")).digest();
    if (!/^Bearer\s+/i.test(header) || !timingSafeEqual(given, expected)) {
      throw new RuntimeError("ERR_UNAUTHORIZED", "missing or wrong control token", {
        status: 401,
        hint: "send Authorization: Bearer <token> (edgefn reads it from --token or EDGEFN_TOKEN; a site keeps it in <site-dir>/control.token)",
      });
    }
    await next();
  });

  app.get("/v1/site", (c) => c.json(deps.site.info()));

  app.get("/v1/functions", (c) => c.json({ site: deps.site.info().name, functions: deps.site.list() }));

  app.get("/v1/functions/:name", (c) => c.json({ function: deps.site.get(parseName(c.req.param("name"))) }));

  app.put("/v1/functions/:name", async (c) => {
    const name = parseName(c.req.param("name"));
    const body = await readJson(c.req.raw, "send {manifest, bundle: {code, sourceMap, digest}} as JSON (edgefn deploy does)");
    const parsed = DeploymentSchema.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
      const first = issues[0]!;
      throw new RuntimeError("ERR_MANIFEST_INVALID", `invalid deployment of "${name}": ${first.path || "(root)"}: ${first.message}`, {
        status: 400,
        hint: "fix the manifest (edgefn.yaml) and deploy again",
        issues,
      });
    }
    if (parsed.data.manifest.metadata.name !== name) {
      throw new RuntimeError("ERR_MANIFEST_INVALID", `the URL names "${name}" but the manifest names "${parsed.data.manifest.metadata.name}"`, {
        status: 400,
        hint: `PUT /v1/functions/${parsed.data.manifest.metadata.name}`,
      });
    }
    return c.json({ function: await deps.site.deploy(parsed.data) });
  });

  app.post("/v1/functions/:name/rollback", async (c) => {
    const name = parseName(c.req.param("name"));
    const body = (await c.req.text()).trim();
    const parsed = RollbackRequestSchema.safeParse(body === "" ? {} : JSON.parse(body));
    if (!parsed.success) throw new RuntimeError("ERR_MANIFEST_INVALID", "the rollback body must be {} or {\"version\": <n>}", { status: 400 });
    return c.json({ function: await deps.site.rollback(name, parsed.data.version) });
  });

  app.delete("/v1/functions/:name", async (c) => {
    const name = parseName(c.req.param("name"));
    await deps.site.remove(name);
    return c.json({ removed: name });
  });

  app.put("/v1/functions/:name/secrets/:secret", async (c) => {
    const name = parseName(c.req.param("name"));
    const secret = parseSecretName(c.req.param("secret"));
    const value = new TextDecoder().decode(await c.req.arrayBuffer());
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES) {
      throw new RuntimeError("ERR_MANIFEST_INVALID", `secret ${secret} is larger than ${MAX_SECRET_BYTES} bytes`, { status: 413 });
    }
    await deps.site.putSecret(name, secret, value);
    return c.json({ function: name, secret });
  });

  app.delete("/v1/functions/:name/secrets/:secret", async (c) => {
    const name = parseName(c.req.param("name"));
    const secret = parseSecretName(c.req.param("secret"));
    await deps.site.removeSecret(name, secret);
    return c.json({ function: name, secret });
  });

  app.post("/v1/tokens", async (c) => {
    const van = needVan();
    const request = TokenRequestSchema.safeParse(await readJson(c.req.raw, "POST {expiresInS?, trust?, grants?}"));
    if (!request.success) throw invalid("token request", request.error);
    const { host } = van.listen;
    const vanAddress = request.data.vanAddress ?? (host === "0.0.0.0" || host === "::" ? undefined : `${host.includes(":") ? `[${host}]` : host}:${van.port}`);
    if (vanAddress === undefined) {
      throw new RuntimeError("ERR_MANIFEST_INVALID", `the VAN listens on ${host}: other sites need an address they can dial`, {
        status: 400,
        hint: "pass --van-address <host:port> (the address other sites reach this one's VAN port at)",
      });
    }
    const claimUrl = request.data.claimUrl ?? `${new URL(c.req.url).origin}/v1/claims`;
    return c.json({ token: await van.network.issueToken({ ...request.data, claimUrl, vanAddress }) });
  });

  app.post("/v1/links", async (c) => c.json({ link: await needVan().network.link(await readJson(c.req.raw, "POST {token, cost}")) }));

  app.get("/v1/links", (c) => c.json({ links: needVan().network.links() }));

  app.delete("/v1/links/:peer", async (c) => {
    const peer = SiteNameSchema.safeParse(c.req.param("peer"));
    if (!peer.success) throw new RuntimeError("ERR_LINK_NOT_FOUND", `"${c.req.param("peer")}" is not a site name`, { status: 400 });
    await needVan().network.unlink(peer.data);
    return c.json({ removed: peer.data });
  });

  app.put("/v1/gitops", async (c) => {
    const agent = needGitops();
    const request = GitopsAttachSchema.safeParse(await readJson(c.req.raw, "PUT {repo, branch?, path?, intervalS?, prune?, gitToken?}"));
    if (!request.success) throw invalid("GitOps attach request", request.error);
    return c.json(await agent.attach(request.data));
  });

  app.get("/v1/gitops", (c) => c.json({ gitops: needGitops().status() }));

  app.post("/v1/gitops/sync", async (c) => c.json({ gitops: await needGitops().sync() }));

  app.delete("/v1/gitops", async (c) => {
    await needGitops().detach();
    return c.json({ detached: true });
  });

  app.get("/v1/status", async (c) => {
    const info = deps.site.info();
    // The isolate host may be restarting: the status still answers, without the load.
    const load = await deps.site.load().catch(() => undefined);
    const van = deps.van;
    const status: SiteStatus = {
      site: info.name,
      region: info.region,
      ingressUrl: info.ingressUrl,
      network: van === undefined ? null : van.network.status(`${van.listen.host}:${van.port}`),
      functions: deps.site.list().map((fn) => ({
        name: fn.name,
        version: fn.version,
        priority: fn.priority,
        attached: van !== undefined && van.router.consumers(`fn/${fn.name}`).length > 0,
      })),
      ...(load === undefined ? {} : { load }),
      ...gitopsSummary(deps.gitops),
    };
    return c.json(status);
  });

  app.get("/v1/logs", (c) => {
    const query = LogQuerySchema.safeParse(c.req.query());
    if (!query.success) {
      throw new RuntimeError("ERR_MANIFEST_INVALID", `bad log query: ${query.error.issues[0]?.path.join(".")}: ${query.error.issues[0]?.message}`, {
        status: 400,
        hint: "GET /v1/logs?function=<name>&follow=true&tail=100",
      });
    }
    const { function: service, follow, tail } = query.data;
    const filter = (line: LogLine) => service === undefined || line.service === service;
    c.header("content-type", "application/x-ndjson; charset=utf-8");
    return stream(c, async (out) => {
      for (const line of deps.logs.tail(filter, tail)) await out.write(`${JSON.stringify(line)}\n`);
      if (follow !== "true" && follow !== "1") return;
      await new Promise<void>((resolve) => {
        const stop = deps.logs.follow(filter, (line) => void out.write(`${JSON.stringify(line)}\n`));
        out.onAbort(() => {
          stop();
          resolve();
        });
      });
    });
  });

  app.notFound(() => {
    throw new RuntimeError("ERR_SERVICE_NOT_FOUND", "no such control API route", {
      status: 404,
      hint: "routes: /v1/site, /v1/status, /v1/functions[/:name[/rollback|/secrets/:secret]], /v1/logs, /v1/tokens, /v1/links[/:peer], /v1/claims, /v1/gitops[/sync|/webhook]",
    });
  });
  return app;
}

function gitopsSummary(agent: GitopsAgent | undefined): Pick<SiteStatus, "gitops"> {
  const g = agent?.status();
  if (g === undefined || !g.attached) return {};
  return { gitops: { repo: g.repo, branch: g.branch, state: g.state, applied: g.applied, offlineSince: g.offlineSince, error: g.error } };
}

function invalid(what: string, error: z.ZodError): RuntimeError {
  return new RuntimeError("ERR_MANIFEST_INVALID", `invalid ${what}`, {
    status: 400,
    issues: error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
  });
}

function parseName(raw: string): string {
  const result = FunctionNameSchema.safeParse(raw);
  if (!result.success) {
    throw new RuntimeError("ERR_MANIFEST_INVALID", `"${raw}" is not a function name: ${result.error.issues[0]?.message}`, { status: 400 });
  }
  return result.data;
}

function parseSecretName(raw: string): string {
  const result = SecretNameSchema.safeParse(raw);
  if (!result.success) {
    throw new RuntimeError("ERR_MANIFEST_INVALID", `"${raw}" is not a secret name: ${result.error.issues[0]?.message}`, {
      status: 400,
      hint: "secret names become env.<NAME>: letters, digits and _",
    });
  }
  return result.data;
}

async function readJson(request: Request, hint: string): Promise<unknown> {
  try {
    return await request.json();
  } catch {
    throw new RuntimeError("ERR_MANIFEST_INVALID", "the request body is not JSON", { status: 400, hint });
  }
}
