/**
 * The control API, on its own listener: deploy, list and remove functions. Every route needs
 * `Authorization: Bearer <token>`, compared in constant time; without it nothing changes.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import { RuntimeError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { DeploymentSchema, FunctionNameSchema } from "./manifest.ts";
import type { Supervisor } from "./supervisor.ts";

export interface ControlDeps {
  supervisor: Supervisor;
  token: string;
  site: string;
  /** Base URL of the ingress, to tell deployers where their function answers. */
  ingressUrl: string;
  logger: Logger;
}

export function createControlApp(deps: ControlDeps): Hono {
  const app = new Hono();
  const expected = createHash("sha256").update(deps.token).digest();
  const log = deps.logger.child({ scope: "runtime:control" });

  app.onError((error, c) => {
    const failure =
      error instanceof RuntimeError
        ? error
        : new RuntimeError("ERR_INTERNAL", "the control API failed", { hint: "this is a bug in edgefn; see the runtime log", cause: error });
    if (failure.code === "ERR_INTERNAL") log.error({ err: error }, "control request failed");
    return c.newResponse(JSON.stringify({ error: failure.toJSON() }), failure.status as 500, {
      "content-type": "application/json; charset=utf-8",
      ...failure.headers,
    });
  });

  app.use(async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const given = createHash("sha256").update(header.replace(/^Bearer\s+/i, "")).digest();
    if (!/^Bearer\s+/i.test(header) || !timingSafeEqual(given, expected)) {
      throw new RuntimeError("ERR_UNAUTHORIZED", "missing or wrong control token", {
        status: 401,
        hint: "send Authorization: Bearer <token> (edgefn reads it from --token or EDGEFN_TOKEN)",
      });
    }
    await next();
  });

  app.get("/v1/functions", (c) =>
    c.json({ site: deps.site, functions: deps.supervisor.list().map((f) => ({ ...f, url: urlOf(deps, f.name) })) }),
  );

  app.put("/v1/functions/:name", async (c) => {
    const name = parseName(c.req.param("name"));
    const body: unknown = await c.req.json().catch(() => {
      throw new RuntimeError("ERR_MANIFEST_INVALID", "the deploy request body is not JSON", {
        status: 400,
        hint: "send {manifest, bundle: {code, sourceMap, digest}} as JSON (edgefn deploy does)",
      });
    });
    const parsed = DeploymentSchema.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
      const first = issues[0]!;
      throw Object.assign(
        new RuntimeError("ERR_MANIFEST_INVALID", `invalid deployment of "${name}": ${first.path || "(root)"}: ${first.message}`, {
          status: 400,
          hint: "fix the manifest (edgefn.yaml) and deploy again",
        }),
        { issues },
      );
    }
    if (parsed.data.manifest.metadata.name !== name) {
      throw new RuntimeError("ERR_MANIFEST_INVALID", `the URL names "${name}" but the manifest names "${parsed.data.manifest.metadata.name}"`, {
        status: 400,
        hint: `PUT /v1/functions/${parsed.data.manifest.metadata.name}`,
      });
    }
    const info = await deps.supervisor.deploy(parsed.data);
    return c.json({ function: { ...info, url: urlOf(deps, name) } });
  });

  app.delete("/v1/functions/:name", async (c) => {
    const name = parseName(c.req.param("name"));
    if (!(await deps.supervisor.remove(name))) {
      throw new RuntimeError("ERR_SERVICE_NOT_FOUND", `no function named "${name}" is deployed here`, { status: 404 });
    }
    return c.json({ removed: name });
  });

  app.notFound(() => {
    throw new RuntimeError("ERR_SERVICE_NOT_FOUND", "no such control API route", { status: 404, hint: "routes: GET/PUT/DELETE /v1/functions[/:name]" });
  });
  return app;
}

function parseName(raw: string): string {
  const result = FunctionNameSchema.safeParse(raw);
  if (!result.success) {
    throw new RuntimeError("ERR_MANIFEST_INVALID", `"${raw}" is not a function name: ${result.error.issues[0]?.message}`, { status: 400 });
  }
  return result.data;
}

function urlOf(deps: ControlDeps, name: string): string {
  return `${deps.ingressUrl}/${name}/`;
}
