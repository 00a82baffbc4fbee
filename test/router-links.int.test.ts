/**
 * Routers linked to routers: three started in process with startRouter (port 0) and linked
 * over loopback, real rhea clients at the edges. Every wait is bounded.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { MAX_HOPS, parseRouterConfig, startRouter, TRACE_ANNOTATION, type Router } from "../router/index.ts";
import {
  answeredBy, attachConsumer, connectCaller, text, until,
  type CallResult, type ConsumerAction, type TestCaller, type TestConsumer,
} from "./helpers/router.ts";

async function router(id: string, links: string[] = [], port = 0): Promise<Router> {
  const r = await startRouter(parseRouterConfig({ EDGEFN_ROUTER_LISTEN: `127.0.0.1:${port}`, EDGEFN_ROUTER_ID: id, EDGEFN_ROUTER_LINKS: links.join(",") }));
  onTestFinished(() => r.close());
  return r;
}

/** `host:port@cost` of a router, for EDGEFN_ROUTER_LINKS. */
const to = (r: Router, cost = 1) => `127.0.0.1:${r.port}@${cost}`;

async function consumer(r: Router, address: string, label: string, act?: (m: unknown) => ConsumerAction): Promise<TestConsumer> {
  const c = await attachConsumer(r.port, address, { label, ...(act === undefined ? {} : { act }) });
  onTestFinished(() => c.close());
  return c;
}

async function caller(r: Router): Promise<TestCaller> {
  const c = await connectCaller(r.port);
  onTestFinished(() => c.close());
  return c;
}

/** Calls until the outcome is not RELEASED (as callers resend with backoff), for at most `ms`. */
async function callUntilRouted(c: TestCaller, name: string, ms: number): Promise<CallResult & { elapsed: number }> {
  const started = Date.now();
  for (;;) {
    const result = await c.call(name);
    const elapsed = Date.now() - started;
    if (result.outcome !== "released" || elapsed > ms) return { ...result, elapsed };
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A line a - b - c (cost 1 each), b dialling c and a dialling b. */
async function line(): Promise<{ a: Router; b: Router; c: Router }> {
  const c = await router("c");
  const b = await router("b", [to(c)]);
  const a = await router("a", [to(b)]);
  return { a, b, c };
}

const seen = (r: Router, address: string, router: string, cost?: number) =>
  r.whereIs(address).some((at) => at.router === router && (cost === undefined || at.cost === cost));

describe("router links", () => {
  it("answers a call two hops away, and the reply finds its way back", async () => {
    const { a, b, c } = await line();
    await consumer(c, "fn/hello", "at-c");
    await until(() => seen(a, "fn/hello", "c", 2), 2_000, "a learns of fn/hello at c");
    const client = await caller(a);

    const result = await callUntilRouted(client, "hello", 2_000);

    expect(result.outcome).toBe("accepted");
    expect(result.reply?.correlationId).toBe(result.messageId);
    expect(text(result.reply)).toBe("at-c: GET /");
    expect(a.forwarded()).toEqual({ b: 1, local: 1 });
    expect(b.forwarded()).toMatchObject({ c: 1, a: 1 }); // the call on to c, the reply back to a
    expect(c.forwarded()).toMatchObject({ local: 1, b: 1 });
  });

  it("takes the cheapest path (a-b-c, 2) over the direct link (a-c, 5), and the direct one when b goes", async () => {
    const c = await router("c");
    const b = await router("b", [to(c, 1)]);
    const a = await router("a", [to(b, 1), to(c, 5)]);
    await consumer(c, "fn/hello", "at-c");
    await until(() => seen(a, "fn/hello", "c", 2), 2_000, "a learns the path to c through b");
    const client = await caller(a);

    expect(answeredBy(await callUntilRouted(client, "hello", 2_000))).toBe("at-c");
    expect(a.forwarded()).toEqual({ b: 1, local: 1 }); // the call to b, the reply to the caller here
    expect(b.forwarded()).toMatchObject({ c: 1 });

    const closed = Date.now();
    await b.close();
    const result = await callUntilRouted(client, "hello", 3_000);
    const failover = Date.now() - closed;

    expect(result.outcome).toBe("accepted");
    expect(answeredBy(result)).toBe("at-c");
    expect(a.forwarded()).toEqual({ b: 1, c: 1, local: 2 });
    expect(a.whereIs("fn/hello")).toEqual([{ router: "c", cost: 5, nextHop: "c", consumers: 1 }]);
    expect(failover).toBeLessThan(1_000);
  });

  it("makes a consumer that attaches at c reachable from a within 1 s", async () => {
    const { a, c } = await line();
    await consumer(c, "fn/other", "other");
    await until(() => seen(a, "fn/other", "c"), 2_000, "a learns the way to c");
    const client = await caller(a);

    const started = Date.now();
    await consumer(c, "fn/late", "late");
    const result = await callUntilRouted(client, "late", 2_000);
    const reachable = Date.now() - started;

    expect(answeredBy(result)).toBe("late");
    expect(reachable).toBeLessThan(1_000);
  });

  it("releases calls from a once the only consumer at c detaches", async () => {
    const { a, c } = await line();
    const hello = await consumer(c, "fn/hello", "at-c");
    await until(() => seen(a, "fn/hello", "c"), 2_000, "a learns of fn/hello at c");
    const client = await caller(a);
    expect((await callUntilRouted(client, "hello", 2_000)).outcome).toBe("accepted");

    await hello.detach();
    const started = Date.now();
    const result = await client.call("hello");

    expect(result.outcome).toBe("released");
    expect(Date.now() - started).toBeLessThan(1_000);
    await until(() => a.whereIs("fn/hello").length === 0, 1_000, "a forgets fn/hello");
    expect((await client.call("hello")).outcome).toBe("released");
  });

  it("passes MODIFIED back hop by hop when the consumer is lost with the call", async () => {
    const { a, c } = await line();
    const stuck = await consumer(c, "fn/hello", "stuck", () => "hold");
    await until(() => seen(a, "fn/hello", "c"), 2_000, "a learns of fn/hello at c");
    const client = await caller(a);

    let pending = client.call("hello");
    await until(() => stuck.held.length === 1, 2_000, "the call reached c's consumer");
    stuck.crash();

    expect((await pending).outcome).toBe("modified");
    pending = client.call("hello");
    expect((await pending).outcome).toBe("released");
  });

  it("releases a call that already went through MAX_HOPS routers instead of forwarding it", async () => {
    const { a, c } = await line();
    await consumer(c, "fn/hello", "at-c");
    await until(() => seen(a, "fn/hello", "c"), 2_000, "a learns of fn/hello at c");
    const client = await caller(a);
    expect((await callUntilRouted(client, "hello", 2_000)).outcome).toBe("accepted");

    const trace = Array.from({ length: MAX_HOPS }, (_, i) => `r${i}`);
    const message = { to: "fn/hello", subject: "GET", application_properties: { ":path": "/" }, message_id: "looped", reply_to: client.replyTo, body: null };
    const result = await client.send({ ...message, message_annotations: { [TRACE_ANNOTATION]: trace } });

    expect(result.outcome).toBe("released");
    expect(a.forwarded()).toEqual({ b: 1, local: 1 });
  });

  it("redials a neighbour that restarts on the same port and learns its new consumers", async () => {
    const first = await router("b");
    const port = first.port;
    const a = await router("a", [to(first)]);
    await consumer(first, "fn/hello", "first");
    await until(() => seen(a, "fn/hello", "b"), 2_000, "a learns of fn/hello at b");

    await first.close();
    await until(() => a.neighbours().length === 0, 2_000, "a sees b gone");
    const again = await router("b", [], port);
    await consumer(again, "fn/hello", "again");
    const client = await caller(a);

    const result = await callUntilRouted(client, "hello", 4_000);
    expect(answeredBy(result)).toBe("again");
  });
});
