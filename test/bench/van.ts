/**
 * The Virtual Application Network in `npm run bench` (DESIGN.md "The VAN"). Every router is a
 * real `router/main.ts` process (test/helpers/router.ts spawnRouter) on 127.0.0.1 with port 0,
 * linked with EDGEFN_ROUTER_LINKS (dialled from one end). Echo consumers are separate processes
 * (test/bench/van-consumer.ts: decode with fromAmqpRequest, answer 200 echoing the body, settle
 * ACCEPTED), so the caller (this process, a lean rhea client below) and the consumer do not share
 * an event loop. A call is an AMQP request message to `fn/<name>` built with toAmqpRequest
 * (POST, 1 KB body, absolute_expiry_time set) from an anonymous sender, answered on a dynamic reply
 * address; it is done when both its ACCEPTED outcome and its reply (1 KB body) are in. Latency is
 * taken from just before `sender.send` to then, with performance.now().
 *
 * 1. Latency per hop. Chain A - B - C (B dials C, A dials B, cost 1 each); consumers `fn/echo-0`
 *    at A, `fn/echo-1` at B, `fn/echo-2` at C; the caller on A. 0 hops = caller and consumer on
 *    the same router, 1 = the consumer on the neighbour, 2 = two routers away. Sequential (one
 *    call at a time, `--van-calls` per hop) and with `--van-inflight` in flight
 *    (`--van-concurrent-calls` per hop), hops interleaved in 4 rounds so drift hits all alike,
 *    after a warm-up; each run stops early at `--van-max-s` seconds per hop count and mode. The added p50 per hop is p50(n hops) - p50(n-1 hops), sequential.
 * 2. Throughput through one router: a fresh router R, one echo consumer process (credit 1000) and
 *    this process as the one caller keeping `--van-load-inflight` calls in flight for
 *    `--van-duration` s after 1 s of warm-up. Counted: completed calls (outcome + reply) per s;
 *    AMQP messages/s = 2 x calls/s (the call and its reply; the router itself moves each twice,
 *    in and out). CPU of the router, the consumer and this process over the run, to show which
 *    one is the limit.
 * 3. Failover: A dials N (cost 1) and F (cost 5); consumer processes `fn/echo` "near" at N and
 *    "far" at F. The caller on A makes steady sequential GET calls (no body, 1 KB reply), resending
 *    on RELEASED, and on MODIFIED when `mayResend` allows it (GET: always), backoff 5 ms doubling to
 *    50 ms, deadline 3 s per call. 300 ms into the steady calls the near consumer's process is
 *    SIGKILLed ("consumer"), or in the other variant the router N holding it ("router"). Measured:
 *    kill -> the first reply from "far" completing, and calls that failed (deadline passed,
 *    REJECTED, or not 200). Fresh routers each trial, `--van-failovers` trials per variant.
 * 4. Reachability: on the chain of 1., a consumer of a new address `fn/late-<i>` attaches at C
 *    (in this process, test/helpers attachConsumer); measured from just before its connect to the
 *    first call from A on that address that completes (a call RELEASED for want of a route is
 *    resent after 2 ms). `--van-reach` trials, each a new address.
 *
 * Every loop is bounded by a count or a deadline; every process is stopped in `finally`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import "../../router/rhea-dispositions.ts"; // before any rhea session: fixes how rhea batches dispositions
import rhea from "rhea";
import type { AmqpError, Connection, Delivery, EventContext, Message, Sender, SenderOptions } from "rhea";
import { z } from "zod";
import { functionAddress, mayResend, toAmqpRequest, withDataSection, type DeliveryOutcome, type HttpRequest } from "../../router/protocol.ts";
import { readReadyLine } from "../helpers/ready.ts";
import { attachConsumer, spawnRouter, type RouterProcess } from "../helpers/router.ts";
import { percentile } from "./load.ts";
import { treeCpuMs } from "./proc.ts";

export const VAN_TARGETS = { addedP50PerHopMs: 0.5, messagesPerS: 20_000, failoverMs: 1_000, failedIdempotentCalls: 0, reachableMs: 200 } as const;

export interface VanSettings {
  /** Sequential calls per hop. */
  calls: number;
  /** Calls per hop with `inflight` in flight. */
  concurrentCalls: number;
  inflight: number;
  /** Seconds of load through one router. */
  durationS: number;
  loadInflight: number;
  /** Cap in seconds on each latency run (one hop count, one mode): fewer calls are made if it passes. */
  maxS: number;
  /** Failover trials per variant. */
  failovers: number;
  /** Reachability trials. */
  reach: number;
}

export interface VanLatency {
  hops: number;
  inflight: number;
  /** Calls completed (fewer than asked when `maxS` cut the run short). */
  calls: number;
  p50Ms: number;
  p99Ms: number;
  callsPerS: number;
  failures: number;
}

export interface VanThroughput {
  durationS: number;
  inflight: number;
  calls: number;
  callsPerS: number;
  /** 2 x callsPerS: each call and its reply. */
  amqpMessagesPerS: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  routerCpu: number;
  consumerCpu: number;
  callerCpu: number;
}

export interface VanFailover {
  kill: "consumer" | "router";
  trials: { failoverMs: number; failed: number; calls: number; resends: number }[];
  medianMs: number;
  maxMs: number;
  failed: number;
  resends: number;
}

export interface VanReachability {
  trials: number;
  samplesMs: number[];
  p50Ms: number;
  maxMs: number;
}

export interface VanResult {
  latency: VanLatency[];
  /** p50(1 hop) - p50(0 hops), p50(2) - p50(1), sequential. */
  addedP50PerHopMs: number[];
  throughput: VanThroughput | null;
  failover: VanFailover[];
  reachability: VanReachability | null;
  notes: string[];
}

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NODE = `${REPO_ROOT}node_modules/.bin/node`;
const CONSUMER_MAIN = `${REPO_ROOT}test/bench/van-consumer.ts`;
const BODY = new Uint8Array(1024).fill(0x61); // "a" x 1 KB
const POST: HttpRequest = { method: "POST", path: "/echo", headers: [["content-type", "application/octet-stream"]], body: BODY };
const GET: HttpRequest = { method: "GET", path: "/echo", headers: [], body: null };
const CALL_TIMEOUT_MS = 5_000;
const SETTLE_MS = 5_000;

export async function measureVan(settings: VanSettings, progress: (message: string) => void): Promise<VanResult> {
  const notes: string[] = [];
  const latency: VanLatency[] = [];
  let reachability: VanReachability | null = null;
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    // --- 1. latency per hop, on the chain A - B - C ---
    progress("VAN: chain A - B - C of router processes, echo consumer processes at each");
    const c = await router("bench-c", cleanup);
    const b = await router("bench-b", cleanup, [c]);
    const a = await router("bench-a", cleanup, [b]);
    const atHop = [a, b, c];
    for (const [hops, r] of atHop.entries()) await consumerProcess(r.port, `fn/echo-${hops}`, `echo-${hops}`, 500, cleanup);
    const caller = await connectBenchCaller(a.port, "bench-caller");
    cleanup.push(() => caller.close());
    for (let hops = 0; hops < atHop.length; hops++) await untilServed(caller, `echo-${hops}`, SETTLE_MS);
    for (let hops = 0; hops < atHop.length; hops++) await runCalls(caller, `echo-${hops}`, 200, 1, 1_000); // warm-up
    for (const [inflight, total] of [[1, settings.calls], [settings.inflight, settings.concurrentCalls]] as const) {
      if (total <= 0) continue;
      progress(`VAN latency: ${total} calls per hop count (0, 1, 2), ${inflight} in flight, 1 KB each way`);
      const rounds = 4;
      const per = atHop.map(() => ({ latencies: [] as number[], failures: 0, wallMs: 0, first: undefined as string | undefined }));
      for (let round = 0; round < rounds; round++) {
        for (let hops = 0; hops < atHop.length; hops++) {
          const n = Math.floor(total / rounds) + (round < total % rounds ? 1 : 0);
          const run = await runCalls(caller, `echo-${hops}`, n, inflight, (settings.maxS * 1000) / rounds);
          const into = per[hops]!;
          into.latencies.push(...run.latencies);
          into.failures += run.failures;
          into.wallMs += run.wallMs;
          into.first ??= run.firstFailure;
        }
      }
      for (const [hops, p] of per.entries()) {
        latency.push({
          hops, inflight, calls: p.latencies.length + p.failures, p50Ms: percentile(p.latencies, 0.5), p99Ms: percentile(p.latencies, 0.99),
          callsPerS: (p.latencies.length * 1000) / Math.max(1, p.wallMs), failures: p.failures,
        });
        if (p.failures > 0) notes.push(`VAN latency, ${hops} hops, ${inflight} in flight: ${p.failures} calls failed, e.g. ${p.first}`);
        if (p.latencies.length + p.failures < total) notes.push(`VAN latency, ${hops} hops, ${inflight} in flight: ${p.latencies.length + p.failures} of ${total} calls in the ${settings.maxS} s cap (--van-max-s)`);
      }
      const zero = latency.find((l) => l.inflight === 1 && l.hops === 0);
      if (inflight === 1 && zero !== undefined && zero.p50Ms >= 20) {
        notes.push(
          `VAN: a sequential call at 0 hops takes ${zero.p50Ms.toFixed(1)} ms at p50, the signature of Nagle's algorithm meeting delayed ACKs: ` +
            "a router socket without TCP_NODELAY (rhea sets it only on connections that open a receiver themselves, unless the container or listener has tcp_no_delay: true)",
        );
      }
    }

    // --- 4. reachability, on the same chain (already converged: echo-2 at C answered) ---
    if (settings.reach > 0) {
      progress(`VAN reachability: ${settings.reach} new consumers at C, called from A`);
      const samples: number[] = [];
      for (let i = 0; i < settings.reach; i++) {
        const name = `late-${i}`;
        const started = performance.now();
        const late = await attachConsumer(c.port, functionAddress(name), { label: name });
        cleanup.push(() => late.close());
        const result = await untilServed(caller, name, 3_000, 2);
        if (result.ok) samples.push(result.endedAt - started);
        else notes.push(`VAN reachability: fn/${name} at C not reachable from A within 3 s (${result.last})`);
        await late.close();
      }
      reachability = { trials: settings.reach, samplesMs: samples, p50Ms: percentile(samples, 0.5), maxMs: samples.length === settings.reach ? Math.max(...samples) : Number.NaN };
    }
    await runCleanup(cleanup);

    // --- 2. throughput through one router ---
    let throughput: VanThroughput | null = null;
    if (settings.durationS > 0) {
      throughput = await measureThroughput(settings, progress, notes);
    }

    // --- 3. failover ---
    const failover: VanFailover[] = [];
    if (settings.failovers > 0) {
      for (const kill of ["consumer", "router"] as const) {
        progress(`VAN failover: ${settings.failovers} trials, SIGKILL the nearer ${kill === "consumer" ? "consumer's process" : "consumer's router"}`);
        const trials: VanFailover["trials"] = [];
        for (let i = 0; i < settings.failovers; i++) trials.push(await failoverTrial(kill, notes));
        const times = trials.map((t) => t.failoverMs);
        failover.push({
          kill, trials, medianMs: percentile(times, 0.5), maxMs: Math.max(...times),
          failed: trials.reduce((n, t) => n + t.failed, 0), resends: trials.reduce((n, t) => n + t.resends, 0),
        });
      }
    }

    const seq = latency.filter((l) => l.inflight === 1);
    const addedP50PerHopMs = seq.slice(1).map((l, i) => l.p50Ms - seq[i]!.p50Ms);
    return { latency, addedP50PerHopMs, throughput, failover, reachability, notes };
  } finally {
    await runCleanup(cleanup);
  }
}

async function measureThroughput(settings: VanSettings, progress: (message: string) => void, notes: string[]): Promise<VanThroughput> {
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const r = await router("bench-load", cleanup);
    const consumer = await consumerProcess(r.port, "fn/echo", "echo", Math.max(1_000, settings.loadInflight * 2), cleanup);
    const caller = await connectBenchCaller(r.port, "bench-load-caller");
    cleanup.push(() => caller.close());
    await untilServed(caller, "echo", SETTLE_MS);
    progress(`VAN throughput: one caller, ${settings.loadInflight} in flight, through one router: 1 s warm-up, ${settings.durationS} s measured`);
    await runFor(caller, "echo", 1_000, settings.loadInflight);
    const routerBefore = treeCpuMs(r.pid);
    const consumerBefore = treeCpuMs(consumer.pid);
    const callerBefore = process.cpuUsage();
    const run = await runFor(caller, "echo", settings.durationS * 1000, settings.loadInflight);
    const callerUsage = process.cpuUsage(callerBefore);
    const routerCpu = (treeCpuMs(r.pid) - routerBefore) / run.wallMs;
    const consumerCpu = (treeCpuMs(consumer.pid) - consumerBefore) / run.wallMs;
    const callerCpu = (callerUsage.user + callerUsage.system) / 1000 / run.wallMs;
    const callsPerS = (run.latencies.length * 1000) / run.wallMs;
    if (run.failures > 0) notes.push(`VAN throughput: ${run.failures} calls failed, e.g. ${run.firstFailure}`);
    return {
      durationS: settings.durationS, inflight: settings.loadInflight, calls: run.latencies.length, callsPerS, amqpMessagesPerS: 2 * callsPerS,
      p50Ms: percentile(run.latencies, 0.5), p99Ms: percentile(run.latencies, 0.99), failures: run.failures, routerCpu, consumerCpu, callerCpu,
    };
  } finally {
    await runCleanup(cleanup);
  }
}

async function failoverTrial(kill: "consumer" | "router", notes: string[]): Promise<VanFailover["trials"][number]> {
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const near = await router("bench-near", cleanup);
    const far = await router("bench-far", cleanup);
    const a = await router("bench-edge", cleanup, [near, far], [1, 5]);
    await consumerProcess(far.port, "fn/echo", "far", 100, cleanup);
    const caller = await connectBenchCaller(a.port, "bench-failover-caller");
    cleanup.push(() => caller.close());
    const first = await untilServed(caller, "echo", SETTLE_MS, 5, GET);
    if (first.consumer !== "far") throw new Error(`failover: the far consumer should answer while it is alone, ${first.consumer ?? first.last} did`);
    const nearConsumer = await consumerProcess(near.port, "fn/echo", "near", 100, cleanup);
    await untilAnsweredBy(caller, "echo", "near", SETTLE_MS);

    let killedAt: number | undefined;
    const victim = kill === "consumer" ? nearConsumer.pid : near.pid;
    const killer = setTimeout(() => {
      try {
        process.kill(victim, "SIGKILL");
      } catch (err) {
        notes.push(`VAN failover (${kill} killed): could not kill pid ${victim}: ${(err as Error).message}`);
        return;
      }
      killedAt = performance.now();
    }, 300);
    let calls = 0;
    let failed = 0;
    let resends = 0;
    let firstFarAt: number | undefined;
    let after = 0;
    const stopAt = performance.now() + 15_000;
    try {
      while (performance.now() < stopAt && after < 20) {
        const result = await callWithResend(caller, "echo", GET, 3_000);
        calls++;
        resends += result.attempts - 1;
        if (!result.ok) {
          failed++;
          notes.push(`VAN failover (${kill} killed): a GET failed after ${result.attempts} attempts: ${result.last}`);
        }
        if (killedAt !== undefined && result.ok && result.consumer === "far") {
          firstFarAt ??= result.endedAt;
          after++;
        }
      }
    } finally {
      clearTimeout(killer);
    }
    if (killedAt === undefined || firstFarAt === undefined) {
      notes.push(`VAN failover (${kill} killed): no call answered by the far consumer within 15 s`);
      return { failoverMs: Number.NaN, failed, calls, resends };
    }
    return { failoverMs: firstFarAt - killedAt, failed, calls, resends };
  } finally {
    await runCleanup(cleanup);
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

async function router(id: string, cleanup: (() => Promise<unknown>)[], links: RouterProcess[] = [], costs: number[] = []): Promise<RouterProcess> {
  const env = { EDGEFN_ROUTER_LINKS: links.map((l, i) => `127.0.0.1:${l.port}@${costs[i] ?? 1}`).join(",") };
  const r = await spawnRouter({ id, env });
  cleanup.push(() => r.stop(2_000));
  return r;
}

const ConsumerReadySchema = z.looseObject({ event: z.literal("ready"), pid: z.number().int() });

async function consumerProcess(port: number, address: string, label: string, credit: number, cleanup: (() => Promise<unknown>)[]): Promise<{ pid: number }> {
  const child: ChildProcess = spawn(NODE, [CONSUMER_MAIN, "--port", String(port), "--address", address, "--label", label, "--credit", String(credit)], {
    cwd: REPO_ROOT,
    stdio: ["pipe", "pipe", "pipe"], // stdin: the consumer exits when it closes, so it cannot outlive the bench
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
    await exited;
    clearTimeout(timer);
  };
  cleanup.push(stop);
  const ready = await readReadyLine(child, { schema: ConsumerReadySchema, lines: [], name: `van-consumer ${label}`, timeoutMs: 20_000 });
  return { pid: ready.pid };
}

async function runCleanup(cleanup: (() => Promise<unknown>)[]): Promise<void> {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// Call loops

interface Run {
  latencies: number[];
  failures: number;
  firstFailure: string | undefined;
  wallMs: number;
}

/** `total` calls to `fn/<name>`, `inflight` at a time; none started after `maxMs`. */
async function runCalls(caller: BenchCaller, name: string, total: number, inflight: number, maxMs: number): Promise<Run> {
  const run: Run = { latencies: [], failures: 0, firstFailure: undefined, wallMs: 0 };
  let issued = 0;
  const started = performance.now();
  const end = started + maxMs;
  await Promise.all(Array.from({ length: Math.max(1, Math.min(inflight, total)) }, async () => {
    while (issued < total && performance.now() < end) {
      issued++;
      record(run, await caller.call(name, POST, CALL_TIMEOUT_MS));
    }
  }));
  run.wallMs = performance.now() - started;
  return run;
}

/** Calls to `fn/<name>`, `inflight` at a time, starting new ones for `ms`. */
async function runFor(caller: BenchCaller, name: string, ms: number, inflight: number): Promise<Run> {
  const run: Run = { latencies: [], failures: 0, firstFailure: undefined, wallMs: 0 };
  const started = performance.now();
  const end = started + ms;
  await Promise.all(Array.from({ length: Math.max(1, inflight) }, async () => {
    while (performance.now() < end) record(run, await caller.call(name, POST, CALL_TIMEOUT_MS));
  }));
  run.wallMs = performance.now() - started;
  return run;
}

function record(run: Run, result: CallOutcome): void {
  if (result.outcome === "accepted" && result.status === 200) run.latencies.push(result.ms);
  else {
    run.failures++;
    run.firstFailure ??= describe(result);
  }
}

function describe(result: CallOutcome): string {
  return result.outcome === "accepted" ? `status ${result.status}` : `${result.outcome}${result.error === undefined ? "" : ` (${result.error})`}`;
}

interface Resent {
  ok: boolean;
  consumer: string | undefined;
  attempts: number;
  last: string;
  endedAt: number;
}

/** As a caller should: resend RELEASED, and MODIFIED when `mayResend` allows it, with backoff, until `deadlineMs`. */
async function callWithResend(caller: BenchCaller, name: string, request: HttpRequest, deadlineMs: number, firstBackoffMs = 5): Promise<Resent> {
  const end = performance.now() + deadlineMs;
  let backoff = firstBackoffMs;
  for (let attempts = 1; ; attempts++) {
    const result = await caller.call(name, request, Math.max(1, end - performance.now()));
    const endedAt = performance.now();
    if (result.outcome === "accepted" && result.status === 200) return { ok: true, consumer: result.consumer, attempts, last: "accepted", endedAt };
    const again = result.outcome !== "timeout" && mayResend(result.outcome, request.method, request.headers);
    if (!again || endedAt + backoff >= end) return { ok: false, consumer: result.consumer, attempts, last: describe(result), endedAt };
    await sleep(backoff);
    backoff = Math.min(backoff * 2, 50);
  }
}

/** Resends until a call to `fn/<name>` is answered (the route is known), for at most `ms`. */
async function untilServed(caller: BenchCaller, name: string, ms: number, backoffMs = 5, request = POST): Promise<Resent> {
  const result = await callWithResend(caller, name, request, ms, backoffMs);
  return result;
}

async function untilAnsweredBy(caller: BenchCaller, name: string, consumer: string, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const result = await callWithResend(caller, name, GET, Math.max(1, end - performance.now()));
    if (result.ok && result.consumer === consumer) return;
    await sleep(5);
  }
  throw new Error(`fn/${name}: still not answered by ${consumer} after ${ms} ms`);
}

// ---------------------------------------------------------------------------------------------
// The caller: one connection, an anonymous sender (respecting credit), a dynamic reply receiver

interface CallOutcome {
  outcome: DeliveryOutcome | "timeout";
  status?: number;
  consumer?: string;
  error?: string;
  ms: number;
}

interface BenchCaller {
  call(name: string, request: HttpRequest, timeoutMs: number): Promise<CallOutcome>;
  close(): Promise<void>;
}

interface Pending {
  id: string;
  started: number;
  deadline: number;
  delivery?: Delivery;
  outcome?: DeliveryOutcome;
  reply?: { status: number; consumer: string | undefined };
  resolve(result: CallOutcome): void;
}

async function connectBenchCaller(port: number, label: string): Promise<BenchCaller> {
  const connection: Connection = rhea.create_container({ id: label }).connect({ host: "127.0.0.1", port, reconnect: false });
  let disconnected = false;
  connection.on("disconnected", () => {
    disconnected = true;
    for (const p of [...pending.values()]) finish(p, { outcome: "timeout", error: "disconnected" });
  });
  await bounded(new Promise<void>((resolve, reject) => {
    connection.once("connection_open", () => resolve());
    connection.once("connection_error", (ctx: EventContext) => reject(ctx.connection.error));
  }), 5_000, `${label}: connect`);
  const replyReceiver = connection.open_receiver({ source: { dynamic: true } as unknown as { address: string }, credit_window: 1_000 });
  const senderOptions: SenderOptions & { treat_modified_as_released: boolean } = { target: {} as { address: string }, treat_modified_as_released: false };
  const sender: Sender = connection.open_sender(senderOptions);
  const replyTo = await bounded(new Promise<string>((resolve) => {
    replyReceiver.once("receiver_open", () => resolve((replyReceiver.source as { address: string }).address));
  }), 5_000, `${label}: dynamic reply address`);
  await bounded(new Promise<void>((resolve) => {
    if (sender.is_remote_open()) resolve();
    else sender.once("sender_open", () => resolve());
  }), 5_000, `${label}: sender attach`);

  const pending = new Map<string, Pending>();
  const byDelivery = new Map<Delivery, Pending>();
  const queue: { p: Pending; message: Message }[] = [];
  let nextId = 1;

  const finish = (p: Pending, result: Omit<CallOutcome, "ms">) => {
    if (!pending.delete(p.id)) return;
    if (p.delivery !== undefined) byDelivery.delete(p.delivery);
    p.resolve({ ...result, ms: performance.now() - p.started });
  };
  const flush = () => {
    while (queue.length > 0 && sender.sendable()) {
      const { p, message } = queue.shift()!;
      if (!pending.has(p.id)) continue; // timed out while waiting for credit
      p.delivery = sender.send(message);
      byDelivery.set(p.delivery, p);
    }
  };
  sender.on("sendable", flush);
  const onOutcome = (outcome: DeliveryOutcome) => (ctx: EventContext) => {
    const p = byDelivery.get(ctx.delivery!);
    if (p === undefined) return;
    p.outcome = outcome;
    const error = (ctx.delivery!.remote_state as { error?: AmqpError } | undefined)?.error;
    if (outcome !== "accepted") finish(p, { outcome, ...(error === undefined ? {} : { error: `${error.condition}: ${error.description ?? ""}` }) });
    else if (p.reply !== undefined) finish(p, { outcome, ...p.reply });
  };
  for (const outcome of ["accepted", "released", "modified", "rejected"] as const) sender.on(outcome, onOutcome(outcome));
  replyReceiver.on("message", (ctx: EventContext) => {
    const m = ctx.message!;
    const p = pending.get(String(m.correlation_id));
    if (p === undefined) return;
    const props = m.application_properties as Record<string, unknown> | undefined;
    const consumer = typeof props?.["x-consumer"] === "string" ? props["x-consumer"] : undefined;
    p.reply = { status: Number(m.subject), consumer };
    if (p.outcome === "accepted") finish(p, { outcome: "accepted", ...p.reply });
  });
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const p of pending.values()) if (p.deadline < now) finish(p, { outcome: "timeout", error: `no outcome and reply within ${Math.round(now - p.started)} ms` });
  }, 20);

  return {
    call(name, request, timeoutMs) {
      const id = `${label}-${nextId++}`;
      return new Promise<CallOutcome>((resolve) => {
        const started = performance.now();
        const p: Pending = { id, started, deadline: started + timeoutMs, resolve };
        if (disconnected) return resolve({ outcome: "timeout", error: "disconnected", ms: 0 });
        pending.set(id, p);
        const amqp = toAmqpRequest(request, { to: functionAddress(name), replyTo, messageId: id, deadline: Date.now() + Math.ceil(timeoutMs) });
        queue.push({ p, message: withDataSection(amqp, rhea.message.data_section) as Message });
        flush();
      });
    },
    async close() {
      clearInterval(sweep);
      if (disconnected || !connection.is_open()) return;
      const done = new Promise<void>((resolve) => {
        connection.once("connection_close", () => resolve());
        connection.once("disconnected", () => resolve());
      });
      connection.close();
      await bounded(done, 2_000, `${label}: close`).catch(() => connection.socket?.destroy());
    },
  };
}

function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
