/**
 * The types function authors write against: `import type { EdgeFunction } from "edgefn"`.
 *
 * A function is a Cloudflare-Workers-style module: its default export has
 * `fetch(request, env, ctx)`. A Hono app (`export default app`) already has that shape.
 * Inside the isolate only Web APIs exist (Request, Response, fetch, crypto, streams...);
 * there is no `process`, `require`, file system or socket.
 *
 * Leaf module: imports nothing, and is erased by the bundler apart from `defineFunction`.
 *
 * @example
 * ```ts
 * import type { EdgeFunction, Fetcher } from "edgefn";
 *
 * interface Env {
 *   GREETING: string;    // spec.env in edgefn.yaml
 *   INVENTORY: Fetcher;  // spec.services: { INVENTORY: inventory }
 * }
 *
 * export default {
 *   async fetch(request, env, ctx) {
 *     const stock = await env.INVENTORY.fetch("http://inventory/items/42"); // a VAN call
 *     return Response.json({ greeting: env.GREETING, site: ctx.site, stock: await stock.json() });
 *   },
 * } satisfies EdgeFunction<Env>;
 * ```
 * @module
 */

/**
 * How important a function is; set by `spec.priority` in edgefn.yaml. When a site is
 * saturated, lower priorities are refused first and their calls spill over to other sites.
 */
export type Priority = "critical" | "high" | "normal" | "low" | "best-effort";

/**
 * A service binding: `env.INVENTORY` for `spec.services: { INVENTORY: inventory }`.
 * Calls go to the nearest healthy site that runs the target function, over the VAN.
 * The URL's host is ignored; its path, query, method, headers and body are sent.
 *
 * @example
 * ```ts
 * const res = await env.INVENTORY.fetch("http://inventory/items/42", { method: "GET" });
 * if (!res.ok) return new Response("inventory unavailable", { status: 502 });
 * ```
 */
export interface Fetcher {
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
}

/**
 * The third argument of `fetch`: where and how this request runs.
 *
 * @example
 * ```ts
 * export default {
 *   async fetch(request, env, ctx) {
 *     // Runs after the response is sent; the isolate stays alive until it settles.
 *     ctx.waitUntil(fetch("https://audit.example.com/hit", { method: "POST" }));
 *     return new Response(`served by ${ctx.site} (${ctx.region}), request ${ctx.requestId}`);
 *   },
 * } satisfies EdgeFunction;
 * ```
 */
export interface ExecutionContext {
  /** Name of the site running this request (the runtime's EDGEFN_SITE_NAME), e.g. `"edge-paris-1"`. */
  readonly site: string;
  /** Region of that site (the runtime's EDGEFN_REGION), e.g. `"eu-west"`. */
  readonly region: string;
  /** The function's priority, from `spec.priority`. */
  readonly priority: Priority;
  /** Id of this request, also on every log line it produces; send it onward to trace a call. */
  readonly requestId: string;
  /**
   * Keeps the request's work alive until `promise` settles, after the response is sent:
   * for logging, cache writes, fire-and-forget calls. Bounded by `limits.timeoutMs`.
   */
  waitUntil(promise: Promise<unknown>): void;
  /**
   * Accepted for Workers compatibility. edgefn has no origin behind a function to fall back
   * to, so an uncaught exception still answers 500.
   */
  passThroughOnException(): void;
  /**
   * Workers' per-binding properties; always `{}` on edgefn. Present so that Workers and
   * Hono code (whose `c.executionCtx` has it) type-checks unchanged.
   */
  readonly props: Record<string, unknown>;
}

/** `env` when no type is given: variables and secrets are strings, services are Fetchers. */
export type DefaultEnv = Record<string, string | Fetcher>;

/**
 * A function module's default export. `Env` describes `env`: one property per
 * `spec.env` variable and `spec.secrets` entry (strings) and per `spec.services`
 * binding (a {@link Fetcher}).
 *
 * Check a plain object with `satisfies EdgeFunction<Env>`, which keeps the parameter
 * types without widening the export; a Hono app can be exported as it is.
 *
 * @example
 * ```ts
 * import type { EdgeFunction } from "edgefn";
 *
 * export default {
 *   fetch(request, env) {
 *     return new Response(`${env.GREETING}, ${new URL(request.url).pathname}`);
 *   },
 * } satisfies EdgeFunction<{ GREETING: string }>;
 * ```
 * @example
 * ```ts
 * import { Hono } from "hono";
 *
 * const app = new Hono<{ Bindings: { GREETING: string } }>();
 * app.get("/", (c) => c.text(c.env.GREETING));
 * export default app;
 * ```
 */
export interface EdgeFunction<Env = DefaultEnv> {
  /** Answers one HTTP request. A throw becomes a 500 and a log line with the stack. */
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
}

/**
 * Returns `fn` unchanged; it only gives `request`, `env` and `ctx` their types where
 * `satisfies` is not wanted (or in JavaScript with JSDoc).
 *
 * @example
 * ```ts
 * import { defineFunction } from "edgefn";
 *
 * export default defineFunction<{ GREETING: string }>({
 *   fetch(request, env, ctx) {
 *     return Response.json({ greeting: env.GREETING, site: ctx.site });
 *   },
 * });
 * ```
 */
export function defineFunction<Env = DefaultEnv>(fn: EdgeFunction<Env>): EdgeFunction<Env> {
  return fn;
}
