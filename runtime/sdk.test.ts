import { Hono } from "hono";
import { describe, expect, expectTypeOf, it } from "vitest";
import { defineFunction } from "./sdk.ts";
import type { EdgeFunction, ExecutionContext, Fetcher, Priority } from "./sdk.ts";
import { PRIORITIES } from "./manifest.ts";

describe("sdk", () => {
  it("defineFunction: returns the function unchanged and types env and ctx", () => {
    const fn = { fetch: () => new Response("ok") };
    expect(defineFunction(fn)).toBe(fn);
    defineFunction<{ GREETING: string; INVENTORY: Fetcher }>({
      fetch(request, env, ctx) {
        expectTypeOf(request).toEqualTypeOf<Request>();
        expectTypeOf(env.GREETING).toEqualTypeOf<string>();
        expectTypeOf(env.INVENTORY.fetch).returns.toEqualTypeOf<Promise<Response>>();
        expectTypeOf(ctx.site).toEqualTypeOf<string>();
        return new Response();
      },
    });
  });

  it("Priority: the manifest's tiers, no more and no fewer", () => {
    expectTypeOf<Priority>().toEqualTypeOf<(typeof PRIORITIES)[number]>();
  });

  it("EdgeFunction: a Hono app satisfies it, and Hono's executionCtx casts to ExecutionContext", () => {
    const app = new Hono<{ Bindings: { GREETING: string } }>();
    app.get("/", (c) => c.text((c.executionCtx as ExecutionContext).site));
    expectTypeOf(app).toExtend<EdgeFunction<{ GREETING: string }>>();
  });
});
