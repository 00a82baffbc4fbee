/**
 * One router, local consumers only: real rhea clients over loopback to a router started in
 * process with startRouter (port 0), and one spawned router/main.ts. Every wait is bounded.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { parseRouterConfig, startRouter, type Router } from "../router/index.ts";
import {
  answeredBy, attachConsumer, connectCaller, spawnRouter, text, until, withTimeout,
  type CallResult, type ConsumerAction, type TestCaller, type TestConsumer,
} from "./helpers/router.ts";

async function router(): Promise<Router> {
  const r = await startRouter(parseRouterConfig({ EDGEFN_ROUTER_LISTEN: "127.0.0.1:0", EDGEFN_ROUTER_ID: "r1" }));
  onTestFinished(() => r.close());
  return r;
}

async function consumer(r: Router, label: string, opts: { credit?: number; act?: (m: unknown) => ConsumerAction; address?: string } = {}): Promise<TestConsumer> {
  const address = opts.address ?? "fn/hello";
  const c = await attachConsumer(r.port, address, { label, ...opts });
  onTestFinished(() => c.close());
  if ((opts.credit ?? 10) > 0) {
    // The credit flow follows the attach: wait until the router has it, so no call is released early.
    await until(() => r.consumers(address).some((h) => h.id.endsWith(c.receiver.name) && h.credit > 0), 2_000, `${label} credit`);
  }
  return c;
}

async function caller(r: Router, opts: { target?: string } = {}): Promise<TestCaller> {
  const c = await connectCaller(r.port, opts);
  onTestFinished(() => c.close());
  return c;
}

describe("router: one router, local consumers", () => {
  it("routes a call to fn/hello and the reply to the caller's dynamic address", async () => {
    const r = await router();
    const hello = await consumer(r, "a");
    const c = await caller(r);
    expect(c.replyTo).toMatch(/^_reply\/r1\//);

    const result = await c.call("hello", { method: "POST", path: "/greet?x=1", headers: [["content-type", "text/plain"]], body: new TextEncoder().encode("hi") });

    expect(result.outcome).toBe("accepted");
    expect(result.reply?.correlationId).toBe(result.messageId);
    expect(result.reply?.response.status).toBe(200);
    expect(text(result.reply)).toBe("a: POST /greet?x=1");
    expect(hello.received[0]).toMatchObject({ to: "fn/hello", subject: "POST", reply_to: c.replyTo, message_id: result.messageId });
  });

  it("routes from a sender attached with a target address, `to` absent, and fills in `to`", async () => {
    const r = await router();
    const hello = await consumer(r, "a");
    const c = await caller(r, { target: "fn/hello" });

    const result = await c.call("hello", {}, { omitTo: true });

    expect(result.outcome).toBe("accepted");
    expect(answeredBy(result)).toBe("a");
    expect(hello.received[0]?.to).toBe("fn/hello");
  });

  it("shares load between two consumers", async () => {
    const r = await router();
    await consumer(r, "a");
    await consumer(r, "b");
    const c = await caller(r);

    const results: CallResult[] = [];
    for (let i = 0; i < 20; i++) results.push(await c.call("hello"));

    expect(results.every((x) => x.outcome === "accepted")).toBe(true);
    const a = results.filter((x) => answeredBy(x) === "a").length;
    expect(a).toBeGreaterThanOrEqual(5);
    expect(20 - a).toBeGreaterThanOrEqual(5);
  });

  it("skips a consumer with no credit, and releases when it is the only one", async () => {
    const r = await router();
    const stingy = await consumer(r, "stingy", { credit: 0 });
    const open = await consumer(r, "open");
    const c = await caller(r);

    const results = await Promise.all(Array.from({ length: 6 }, () => c.call("hello")));
    expect(results.map(answeredBy)).toEqual(Array(6).fill("open"));
    expect(stingy.received).toHaveLength(0);
    expect(r.consumers("fn/hello").find((h) => h.id.endsWith(stingy.receiver.name))?.skip).toBe("no-credit");

    await open.detach();
    const started = Date.now();
    expect((await c.call("hello")).outcome).toBe("released");
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("skips a consumer that stops settling after ~1 s, while the other keeps answering; its calls come back MODIFIED when it goes", async () => {
    const r = await router();
    // Credit for every burst below: a saturated consumer would be skipped too, which is not the point here.
    const good = await consumer(r, "good", { credit: 100 });
    const stuck = await consumer(r, "stuck", { act: () => "hold" });
    const c = await caller(r);

    // A burst while both are healthy: the stuck one takes its share and holds it.
    const first = Array.from({ length: 6 }, () => c.call("hello"));
    await until(() => stuck.held.length + good.received.length === 6, 2_000, "first burst handed out");
    expect(stuck.held.length).toBeGreaterThan(0);
    const held = stuck.held.length;

    await new Promise((resolve) => setTimeout(resolve, 1_200)); // past the 1 s hung threshold
    expect(r.consumers("fn/hello").find((h) => h.id.endsWith(stuck.receiver.name))?.skip).toBe("hung");

    // More calls than would ever tie on outstanding: without hung detection it would get some.
    const second = await Promise.all(Array.from({ length: 3 * held + 3 }, () => c.call("hello")));
    expect(second.map(answeredBy)).toEqual(Array(3 * held + 3).fill("good"));
    expect(stuck.received).toHaveLength(held);
    expect(good.received.length).toBe(6 - held + 3 * held + 3);

    await stuck.close();
    const outcomes = (await withTimeout(Promise.all(first), 3_000, "first burst")).map((x) => x.outcome);
    expect(outcomes.filter((o) => o === "modified")).toHaveLength(held);
    expect(outcomes.filter((o) => o === "accepted")).toHaveLength(6 - held);
  });

  it("releases at once when no consumer serves the address", async () => {
    const r = await router();
    const c = await caller(r);
    const started = Date.now();
    expect((await c.call("nobody")).outcome).toBe("released");
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("gives the calls a consumer left unsettled when it detached cleanly (a drain) to the next consumer: they never ran", async () => {
    const r = await router();
    const draining = await consumer(r, "draining", { act: () => "hold" });
    const c = await caller(r);
    const pending = c.call("hello");
    await until(() => draining.held.length === 1, 2_000, "consumer got the call");
    await consumer(r, "next");

    await draining.detach();

    const result = await pending;
    expect(result.outcome).toBe("accepted");
    expect(answeredBy(result)).toBe("next");
  });

  it.each([
    ["closes its connection", (x: TestConsumer) => x.close()],
    ["crashes (socket dropped)", (x: TestConsumer) => x.crash()],
  ])("caller sees MODIFIED when its consumer %s with the delivery unsettled", async (_, end) => {
    const r = await router();
    const stuck = await consumer(r, "stuck", { act: () => "hold" });
    const c = await caller(r);

    const pending = c.call("hello");
    await until(() => stuck.held.length === 1, 2_000, "consumer got the call");
    await end(stuck);

    expect((await pending).outcome).toBe("modified");
    await until(() => r.consumers("fn/hello").length === 0, 2_000, "address withdrawn");
  });

  it.each([
    ["release", "released"],
    ["modified", "modified"],
    ["reject", "rejected"],
  ] as const)("maps the consumer's %s to %s for the caller", async (action, outcome) => {
    const r = await router();
    await consumer(r, "a", { act: () => action });
    const c = await caller(r);

    const result = await c.call("hello");

    expect(result.outcome).toBe(outcome);
    if (outcome === "rejected") expect(result.error).toMatchObject({ condition: "amqp:decode-error" });
  });

  it("gives a call one consumer released to the next able one; RELEASED to the caller only when all did", async () => {
    const r = await router();
    const full = await consumer(r, "full", { act: () => "release" });
    const open = await consumer(r, "open");
    const c = await caller(r);

    const results = await Promise.all(Array.from({ length: 6 }, () => c.call("hello")));
    expect(results.map(answeredBy)).toEqual(Array(6).fill("open"));
    expect(full.received.length).toBeGreaterThan(0); // it was tried, and released each time

    await open.detach();
    expect((await c.call("hello")).outcome).toBe("released");
  });

  it("withdraws a detached consumer's address: the next call is RELEASED", async () => {
    const r = await router();
    const hello = await consumer(r, "a");
    const c = await caller(r);
    expect((await c.call("hello")).outcome).toBe("accepted");

    await hello.detach();

    expect(r.consumers("fn/hello")).toEqual([]);
    expect((await c.call("hello")).outcome).toBe("released");
  });

  it("rejects a call whose deadline passed before delivery", async () => {
    const r = await router();
    const hello = await consumer(r, "a");
    const c = await caller(r);

    const result = await c.call("hello", {}, { deadline: Date.now() - 1_000 });

    expect(result).toMatchObject({ outcome: "rejected", error: { condition: "edgefn:deadline-exceeded" } });
    expect(hello.received).toHaveLength(0);
  });

  it("refuses a receiver on an address that is not fn/<name>", async () => {
    const r = await router();
    const c = await caller(r);
    await expect(attachConsumer(r.port, c.replyTo, { label: "thief" })).rejects.toThrow(/amqp:invalid-field/);
    await expect(attachConsumer(r.port, "queue/x", { label: "other" })).rejects.toThrow(/amqp:invalid-field/);
  });
});

describe("router/main.ts", () => {
  it("prints its ready line first, routes a call, and exits 0 on SIGTERM", async () => {
    const proc = await spawnRouter({ id: "proc" });
    onTestFinished(() => proc.stop(1_000).then(() => undefined));
    expect(JSON.parse(proc.logs[0]!)).toMatchObject({ event: "ready", port: proc.port, id: "proc" });

    const hello = await attachConsumer(proc.port, "fn/hello", { label: "a" });
    onTestFinished(() => hello.close());
    const c = await connectCaller(proc.port);
    onTestFinished(() => c.close());

    // Its credit reaches the router just after the attach: resend on RELEASED, as callers do.
    let result = await c.call("hello");
    for (let i = 0; i < 50 && result.outcome === "released"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      result = await c.call("hello");
    }
    expect(result.outcome).toBe("accepted");
    expect(text(result.reply)).toBe("a: GET /");

    expect(await proc.stop()).toBe(0);
  });
});
