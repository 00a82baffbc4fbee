/**
 * `npm run bench`: edgefn against its baselines in one run, on loopback, same client
 * settings, interleaved rounds (raw node:http, hono, edgefn serving functions/hello warm),
 * then cold start over 100 functions and RSS with 1,000 deployed, then the VAN (router
 * processes: latency per hop, messages/s through one router, failover, reachability; see
 * van.ts). Prints a table and one JSON summary line. Exits 0 when targets are missed (they are
 * marked); 1 if it broke.
 *
 *   node --no-node-snapshot test/bench/main.ts [--rounds 3] [--duration 4] [--connections 32]
 *                                             [--cold 100] [--deployed 1000] [--warm 100] [--deploys 20]
 *                                             [--skip-van | --van-only] [--van-calls 2000]
 *                                             [--van-concurrent-calls 10000] [--van-inflight 50]
 *                                             [--van-duration 4] [--van-load-inflight 100] [--van-max-s 10]
 *                                             [--van-failovers 3] [--van-reach 5]
 *                                             [--skip-admission | --admission-only] [--admission-duration 5]
 *                                             [--skip-gitops | --gitops-only] [--gitops-pushes 10] [--gitops-interval 2]
 */
import { existsSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { RUNTIME_MAIN } from "../helpers/runtime.ts";
import type { RuntimeHandle } from "../helpers/runtime.ts";
import { BASELINES, startBaseline } from "./baselines.ts";
import { measureDeployToLive, type DeployToLive } from "./deploy.ts";
import { measureCommitToLive, type CommitToLive } from "./gitops.ts";
import { buildHello, measureColdStart, measureMemory, startEdgefn } from "./edgefn.ts";
import type { ColdStart, Memory } from "./edgefn.ts";
import { median, runLoad } from "./load.ts";
import type { LoadResult } from "./load.ts";
import { treeCpuMs } from "./proc.ts";
import { ADMISSION_TARGETS, measureAdmission, type AdmissionResult } from "./admission.ts";
import { measureVan, VAN_TARGETS, type VanResult } from "./van.ts";

const TARGETS = { throughputRatio: 0.6, coldP50Ms: 5, rssMb: 400, deployToLiveP50Ms: 300 } as const;

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "4" },
    connections: { type: "string", default: "32" },
    cold: { type: "string", default: "100" },
    deployed: { type: "string", default: "1000" },
    warm: { type: "string", default: "100" },
    deploys: { type: "string", default: "20" },
    "skip-van": { type: "boolean", default: false },
    "van-only": { type: "boolean", default: false },
    "van-calls": { type: "string", default: "2000" },
    "van-concurrent-calls": { type: "string", default: "10000" },
    "van-inflight": { type: "string", default: "50" },
    "van-duration": { type: "string", default: "4" },
    "van-load-inflight": { type: "string", default: "100" },
    "van-max-s": { type: "string", default: "10" },
    "van-failovers": { type: "string", default: "3" },
    "van-reach": { type: "string", default: "5" },
    "skip-admission": { type: "boolean", default: false },
    "admission-only": { type: "boolean", default: false },
    "admission-duration": { type: "string", default: "5" },
    "skip-gitops": { type: "boolean", default: false },
    "gitops-only": { type: "boolean", default: false },
    "gitops-pushes": { type: "string", default: "10" },
    "gitops-interval": { type: "string", default: "2" },
  },
});
const settings = {
  rounds: Number(args.rounds),
  durationS: Number(args.duration),
  connections: Number(args.connections),
  cold: Number(args.cold),
  deployed: Number(args.deployed),
  warm: Number(args.warm),
  deploys: Number(args.deploys),
  van: args["skip-van"] ? null : {
    calls: Number(args["van-calls"]),
    concurrentCalls: Number(args["van-concurrent-calls"]),
    inflight: Number(args["van-inflight"]),
    durationS: Number(args["van-duration"]),
    loadInflight: Number(args["van-load-inflight"]),
    maxS: Number(args["van-max-s"]),
    failovers: Number(args["van-failovers"]),
    reach: Number(args["van-reach"]),
  },
  vanOnly: args["van-only"],
  admissionS: args["skip-admission"] ? null : Number(args["admission-duration"]),
  admissionOnly: args["admission-only"],
  gitops: args["skip-gitops"] ? null : { pushes: Number(args["gitops-pushes"]), intervalS: Number(args["gitops-interval"]) },
  gitopsOnly: args["gitops-only"],
};

interface Target {
  name: string;
  url: string;
  pid: number;
  runs: (LoadResult & { serverCpu: number; clientCpu: number; cpuUsPerRequest: number })[];
}

interface Summary {
  rows: { name: string; requestsPerS: number; p50Ms: number; p99Ms: number; serverCpu: number; clientCpu: number; cpuUsPerRequest: number; failures: number }[];
  ratio: number | null;
  cold: ColdStart | null;
  memory: Memory | null;
  deployToLive: DeployToLive | null;
  van: VanResult | null;
  admission: AdmissionResult | null;
  commitToLive: CommitToLive | null;
  notes: string[];
}

async function main(): Promise<Summary> {
  const notes: string[] = [];
  const stops: (() => Promise<void>)[] = [];
  const targets: Target[] = [];
  let edgefn: RuntimeHandle | undefined;
  if (settings.vanOnly || settings.admissionOnly || settings.gitopsOnly) {
    const van = settings.van === null || !settings.vanOnly ? null : await measureVan(settings.van, progress);
    const admission = settings.admissionS === null || !settings.admissionOnly ? null : await measureAdmission(settings.admissionS, progress);
    let commitToLive: CommitToLive | null = null;
    let deployToLive: DeployToLive | null = null;
    if (settings.gitops !== null && settings.gitopsOnly) {
      progress(`deploy-to-live: ${settings.deploys} deploys of hello with edgefn deploy (the push baseline)`);
      deployToLive = await measureDeployToLive(settings.deploys);
      commitToLive = await measureGitops(settings.gitops);
    }
    const [load1] = loadavg();
    if (load1! > availableParallelism()) notes.push(`the machine was busy (load average ${fmt(load1!, 1)} on ${availableParallelism()} CPUs): absolute figures are noise`);
    return { rows: [], ratio: null, cold: null, memory: null, deployToLive, van, admission, commitToLive, notes: [...(van?.notes ?? []), ...notes] };
  }
  const hello = await buildHello();
  try {
    for (const kind of BASELINES) {
      const server = await startBaseline(kind);
      stops.push(server.stop);
      targets.push({ name: kind === "raw" ? "raw node:http" : "hono (node-server)", url: `${server.url}/hello/`, pid: server.pid, runs: [] });
    }
    if (existsSync(RUNTIME_MAIN)) {
      edgefn = await startEdgefn();
      stops.push(edgefn.stop);
      await edgefn.deploy(hello);
      targets.push({ name: "edgefn hello", url: `${edgefn.url}/hello/`, pid: edgefn.pid, runs: [] });
    } else {
      notes.push("edgefn skipped: runtime/main.ts does not exist yet");
    }

    progress(`warm-up: 1 s per target`);
    for (const t of targets) await runLoad(t.url, { connections: settings.connections, durationS: 1 });
    for (let round = 1; round <= settings.rounds; round++) {
      for (const t of targets) {
        progress(`round ${round}/${settings.rounds}: ${t.name} for ${settings.durationS} s`);
        const cpuBefore = treeCpuMs(t.pid);
        const clientBefore = process.cpuUsage();
        const result = await runLoad(t.url, { connections: settings.connections, durationS: settings.durationS });
        const client = process.cpuUsage(clientBefore);
        const wallMs = settings.durationS * 1000;
        const serverCpu = (treeCpuMs(t.pid) - cpuBefore) / wallMs;
        const clientCpu = (client.user + client.system) / 1000 / wallMs;
        const cpuUsPerRequest = (serverCpu * wallMs * 1000) / Math.max(1, result.requests);
        t.runs.push({ ...result, serverCpu, clientCpu, cpuUsPerRequest });
      }
    }

    let cold: ColdStart | null = null;
    if (edgefn) {
      progress(`cold start: ${settings.cold} functions, first request each`);
      cold = await measureColdStart(hello, settings.cold);
    }
    for (const stop of stops.splice(0).reverse()) await stop();

    let memory: Memory | null = null;
    if (edgefn) {
      progress(`memory: ${settings.deployed} functions deployed, ${settings.warm} warm (fresh runtime)`);
      memory = await measureMemory(hello, settings.deployed, settings.warm);
    }

    let deployToLive: DeployToLive | null = null;
    if (edgefn && settings.deploys > 0) {
      progress(`deploy-to-live: ${settings.deploys} deploys of hello with edgefn deploy (fresh site with a state dir)`);
      deployToLive = await measureDeployToLive(settings.deploys);
    }

    const van = settings.van === null ? null : await measureVan(settings.van, progress);
    if (van) notes.push(...van.notes);
    const admission = settings.admissionS === null ? null : await measureAdmission(settings.admissionS, progress);
    const commitToLive = settings.gitops === null ? null : await measureGitops(settings.gitops);

    const rows = targets.map((t) => ({
      name: t.name,
      requestsPerS: median(t.runs.map((r) => r.requestsPerS)),
      p50Ms: median(t.runs.map((r) => r.p50Ms)),
      p99Ms: median(t.runs.map((r) => r.p99Ms)),
      serverCpu: median(t.runs.map((r) => r.serverCpu)),
      clientCpu: median(t.runs.map((r) => r.clientCpu)),
      cpuUsPerRequest: median(t.runs.map((r) => r.cpuUsPerRequest)),
      failures: t.runs.reduce((sum, r) => sum + r.failures, 0),
    }));
    if (cold && cold.failures > 0) notes.push(`cold start: ${cold.failures} requests failed, e.g. ${cold.firstFailure}`);
    if (memory && memory.failures > 0) notes.push(`memory: ${memory.failures} warming requests failed, e.g. ${memory.firstFailure}`);
    if (deployToLive && deployToLive.failures > 0) notes.push(`deploy-to-live: ${deployToLive.failures} deploys failed, e.g. ${deployToLive.firstFailure}`);
    const [load1] = loadavg();
    if (load1! > availableParallelism()) {
      notes.push(`the machine was busy (load average ${fmt(load1!, 1)} on ${availableParallelism()} CPUs): absolute figures are noise, ratios less so`);
    }
    const raw = rows[0]!;
    if (rows.some((r) => r.clientCpu >= 0.9)) {
      notes.push("the load generator used >= 90% of a CPU in some runs: it, not the server, may be the limit there, which narrows ratios");
    }
    const edge = rows.find((r) => r.name === "edgefn hello");
    return { rows, ratio: edge ? edge.requestsPerS / raw.requestsPerS : null, cold, memory, deployToLive, van, admission, commitToLive, notes };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

function report(s: Summary): void {
  const mark = (met: boolean) => (met ? "MET" : "MISSED");
  const out: string[] = [];
  out.push("", `target                 req/s     p50 ms   p99 ms   server CPU   client CPU   server CPU/req   failures`);
  for (const r of s.rows) {
    out.push(
      `${r.name.padEnd(20)} ${fmt(r.requestsPerS, 0).padStart(8)} ${fmt(r.p50Ms, 2).padStart(9)} ${fmt(r.p99Ms, 2).padStart(8)} ${`${fmt(r.serverCpu * 100, 0)}%`.padStart(12)} ${`${fmt(r.clientCpu * 100, 0)}%`.padStart(12)} ${`${fmt(r.cpuUsPerRequest, 0)} µs`.padStart(16)} ${String(r.failures).padStart(10)}`,
    );
  }
  out.push("");
  if (s.ratio !== null) {
    out.push(`warm throughput edgefn/raw: ${fmt(s.ratio, 2)}x   (target >= ${TARGETS.throughputRatio}x)  ${mark(s.ratio >= TARGETS.throughputRatio)}`);
    const hono = s.rows[1];
    if (hono) out.push(`                 hono/raw:   ${fmt(hono.requestsPerS / s.rows[0]!.requestsPerS, 2)}x`);
    const edge = s.rows.at(-1)!;
    out.push(`server CPU per request edgefn/raw: ${fmt(edge.cpuUsPerRequest / s.rows[0]!.cpuUsPerRequest, 1)}x   (less sensitive to a busy machine than req/s)`);
  }
  if (s.cold) {
    out.push(
      `cold start, ${s.cold.functions} functions: p50 ${fmt(s.cold.p50Ms, 2)} ms, p99 ${fmt(s.cold.p99Ms, 2)} ms (warm p50 ${fmt(s.cold.warmP50Ms, 2)} ms)   (target p50 <= ${TARGETS.coldP50Ms} ms)  ${mark(s.cold.p50Ms <= TARGETS.coldP50Ms)}`,
    );
  }
  if (s.memory) {
    const m = s.memory;
    out.push(
      `RSS, runtime process tree: idle ${fmt(m.idleMb, 0)} MB, ${m.deployed} deployed ${fmt(m.deployedMb, 0)} MB, ${m.warm} of them warm ${fmt(m.warmMb, 0)} MB   (target <= ${TARGETS.rssMb} MB)  ${mark(m.warmMb <= TARGETS.rssMb)}`,
    );
  }
  if (s.deployToLive) {
    const d = s.deployToLive;
    out.push(
      `deploy-to-live (edgefn deploy start -> first call answering the new version), ${d.deploys} deploys: p50 ${fmt(d.p50Ms, 0)} ms, p99 ${fmt(d.p99Ms, 0)} ms (cli process until exit p50 ${fmt(d.cliP50Ms, 0)} ms)   (target p50 <= ${TARGETS.deployToLiveP50Ms} ms)  ${mark(d.p50Ms <= TARGETS.deployToLiveP50Ms)}`,
    );
  }
  if (s.commitToLive) out.push(...reportGitops(s.commitToLive, s.deployToLive));
  if (s.van) out.push(...reportVan(s.van, mark));
  if (s.admission) out.push(...reportAdmission(s.admission, mark));
  for (const note of s.notes) out.push(`note: ${note}`);
  out.push("");
  process.stdout.write(`${out.join("\n")}\n`);
  const json = {
    bench: "edgefn",
    node: process.version,
    cpus: availableParallelism(),
    loadavg: loadavg(),
    settings,
    targets: { ...TARGETS, van: VAN_TARGETS, admission: ADMISSION_TARGETS },
    ...s,
    van: s.van === null ? null : (({ notes: _notes, ...van }) => van)(s.van), // its notes are in `notes`
  };
  process.stdout.write(`${JSON.stringify(json)}\n`);
}

async function measureGitops(gitops: { pushes: number; intervalS: number }): Promise<CommitToLive> {
  progress(`commit-to-live: ${gitops.pushes} pushes with the webhook, ${Math.ceil(gitops.pushes / 2)} with polling every ${gitops.intervalS} s (git over smart HTTP on loopback)`);
  return measureCommitToLive(gitops.pushes, gitops.intervalS);
}

function reportGitops(c: CommitToLive, push: DeployToLive | null): string[] {
  const ratio = (ms: number) => (push === null || !(push.p50Ms > 0) ? "" : ` = ${fmt(ms / push.p50Ms, 2)}x edgefn deploy's deploy-to-live`);
  const failed = (r: CommitToLive["webhook"]) => (r.failures === 0 ? "" : `, ${r.failures} never went live (${r.firstFailure})`);
  return [
    "",
    "GitOps commit-to-live (git push -> first call answering the new commit; site pulls over smart HTTP, gitops.ts)",
    `with the webhook, ${c.webhook.pushes} pushes: p50 ${fmt(c.webhook.p50Ms, 0)} ms, p99 ${fmt(c.webhook.p99Ms, 0)} ms${ratio(c.webhook.p50Ms)}${failed(c.webhook)}`,
    `polling every ${c.polling.intervalS} s, ${c.polling.pushes} pushes: p50 ${fmt(c.polling.p50Ms, 0)} ms, p99 ${fmt(c.polling.p99Ms, 0)} ms (expected about half the interval plus one sync)${failed(c.polling)}`,
  ];
}

function reportAdmission(a: AdmissionResult, mark: (met: boolean) => string): string[] {
  const run = (r: AdmissionResult["withAdmission"]) =>
    `crit ${r.critCalls} calls, ${fmt(r.critSuccess * 100, 1)}% ok, p99 ${fmt(r.critP99Ms, 1)} ms = ${fmt(r.critP99Ms / a.unloadedP99Ms, 2)}x unloaded; best-effort ${r.bulkCalls} calls, ${r.bulkShed} refused`;
  const on = a.withAdmission;
  const met = on.critSuccess >= ADMISSION_TARGETS.critSuccess && on.critP99Ms / a.unloadedP99Ms <= ADMISSION_TARGETS.critP99Ratio;
  return [
    "",
    `admission (admission.ts): site with 1 CPU for isolates, crit (critical) + 4 best-effort, 10 ms CPU each, best-effort flooded; crit unloaded p99 ${fmt(a.unloadedP99Ms, 1)} ms`,
    `with admission:    ${run(on)}   (target >= ${ADMISSION_TARGETS.critSuccess * 100}% ok, p99 <= ${ADMISSION_TARGETS.critP99Ratio}x unloaded)  ${mark(met)}`,
    `without (baseline): ${run(a.withoutAdmission)}`,
    `with a second site linked: ${a.spill.bulkCalls} best-effort calls at the busy site, ${a.spill.servedElsewhere} served by the other site, ${a.spill.failed} failed`,
  ];
}

function reportVan(v: VanResult, mark: (met: boolean) => string): string[] {
  const out = ["", "VAN: router processes on 127.0.0.1, 1 KB call + 1 KB reply (van.ts)"];
  if (v.latency.length > 0) {
    out.push(`hops   in flight      calls     p50 ms   p99 ms    calls/s   failures`);
    for (const l of v.latency) {
      out.push(`${String(l.hops).padEnd(6)} ${String(l.inflight).padStart(9)} ${String(l.calls).padStart(10)} ${fmt(l.p50Ms, 3).padStart(10)} ${fmt(l.p99Ms, 3).padStart(8)} ${fmt(l.callsPerS, 0).padStart(10)} ${String(l.failures).padStart(10)}`);
    }
  }
  if (v.addedP50PerHopMs.length > 0) {
    const worst = Math.max(...v.addedP50PerHopMs);
    out.push(`added p50 per hop (sequential): ${v.addedP50PerHopMs.map((ms, i) => `hop ${i + 1} ${fmt(ms, 3)} ms`).join(", ")}   (target <= ${VAN_TARGETS.addedP50PerHopMs} ms each)  ${mark(worst <= VAN_TARGETS.addedP50PerHopMs)}`);
  }
  if (v.throughput) {
    const t = v.throughput;
    out.push(
      `through one router, one caller process, ${t.inflight} in flight, ${t.durationS} s: ${fmt(t.callsPerS, 0)} calls/s = ${fmt(t.amqpMessagesPerS, 0)} AMQP msgs/s (call + reply), p50 ${fmt(t.p50Ms, 2)} ms, p99 ${fmt(t.p99Ms, 2)} ms; CPU router ${fmt(t.routerCpu * 100, 0)}%, consumer ${fmt(t.consumerCpu * 100, 0)}%, caller ${fmt(t.callerCpu * 100, 0)}%   (target >= ${fmt(VAN_TARGETS.messagesPerS, 0)} msgs/s)  ${mark(t.amqpMessagesPerS >= VAN_TARGETS.messagesPerS)}`,
    );
  }
  for (const f of v.failover) {
    const met = f.maxMs <= VAN_TARGETS.failoverMs && f.failed <= VAN_TARGETS.failedIdempotentCalls;
    out.push(
      `failover, SIGKILL the nearer ${f.kill === "consumer" ? "consumer's process" : "consumer's router"}, ${f.trials.length} trials: kill -> first success at the other max ${fmt(f.maxMs, 0)} ms (median ${fmt(f.medianMs, 0)} ms), ${f.failed} failed idempotent calls, ${f.resends} resends   (target <= ${VAN_TARGETS.failoverMs} ms, ${VAN_TARGETS.failedIdempotentCalls} failed)  ${mark(met)}`,
    );
  }
  if (v.reachability) {
    const r = v.reachability;
    out.push(
      `reachability, new consumer at C called from A (A - B - C), ${r.trials} trials: p50 ${fmt(r.p50Ms, 0)} ms, max ${fmt(r.maxMs, 0)} ms   (target <= ${VAN_TARGETS.reachableMs} ms)  ${mark(r.maxMs <= VAN_TARGETS.reachableMs)}`,
    );
  }
  return out;
}

function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "n/a";
}

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

progress(`${availableParallelism()} CPUs, node ${process.version}; autocannon ${settings.connections} connections x ${settings.durationS} s, ${settings.rounds} rounds, medians`);
main().then(report, (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
