/**
 * Admission by priority, for `npm run bench` (issue: "Priorities end to end"). Real runtime
 * processes on 127.0.0.1; every loop bounded by a duration and a count.
 *
 * A site whose isolates may use one CPU (EDGEFN_CPUS=1) runs `crit` (critical) and four
 * best-effort functions `bulk-1..4`, each spinning 10 ms of CPU per request (one isolate runs
 * one request at a time, so four functions can keep every core busy). Eight callers flood the
 * bulk functions (pausing 20 ms after a 503) for `durationS`, while one caller calls crit in a
 * loop from 1 s in. The same on a site with EDGEFN_CPUS=64 (never saturated: no admission) is
 * the baseline. Reported: crit's success rate and p99 against its unloaded p99 (target: >= 99%,
 * p99 <= 3x unloaded), and how much bulk was refused. Then the same flood at a site linked to a
 * second one: how many bulk calls completed at the other site instead of failing.
 */
import { inlineFunction } from "../helpers/inline.ts";
import { startRuntime, type RuntimeHandle } from "../helpers/runtime.ts";
import { linkSites, startSite, waitServed } from "../helpers/sites.ts";

export const ADMISSION_TARGETS = { critSuccess: 0.99, critP99Ratio: 3 } as const;

export interface AdmissionRun {
  critCalls: number;
  critSuccess: number;
  critP99Ms: number;
  bulkCalls: number;
  bulkShed: number;
}

export interface AdmissionResult {
  unloadedP99Ms: number;
  withAdmission: AdmissionRun;
  withoutAdmission: AdmissionRun;
  spill: { bulkCalls: number; servedElsewhere: number; failed: number };
}

const BULK = ["bulk-1", "bulk-2", "bulk-3", "bulk-4"];

const spinner = (name: string, priority: "critical" | "best-effort") =>
  inlineFunction(
    name,
    "export default { fetch() { const end = Date.now() + 10; let n = 0; while (Date.now() < end) n++; return new Response(String(n)); } };",
    { priority, limits: { concurrency: 64, cpuMs: 200 } },
  );

async function call(url: string): Promise<{ status: number; ms: number; site: string | null; shed: boolean }> {
  const started = performance.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const body = await res.text();
    return { status: res.status, ms: performance.now() - started, site: res.headers.get("x-edgefn-site"), shed: body.includes('"ERR_SHED"') };
  } catch {
    return { status: 0, ms: performance.now() - started, site: null, shed: false };
  }
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

async function overload(url: string, durationS: number): Promise<{ run: AdmissionRun; bulk: Awaited<ReturnType<typeof call>>[] }> {
  const until = Date.now() + durationS * 1000;
  const bulk: Awaited<ReturnType<typeof call>>[] = [];
  const flood = async (i: number) => {
    while (Date.now() < until && bulk.length < 100_000) {
      const result = await call(`${url}/${BULK[(i + bulk.length) % BULK.length]}/`);
      bulk.push(result);
      if (result.status === 503) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const crit: Awaited<ReturnType<typeof call>>[] = [];
  const steady = async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    while (Date.now() < until && crit.length < 20_000) crit.push(await call(`${url}/crit/`));
  };
  await Promise.all([...Array.from({ length: 8 }, (_, i) => flood(i)), steady()]);
  const ok = crit.filter((c) => c.status === 200);
  const run = {
    critCalls: crit.length,
    critSuccess: crit.length === 0 ? 0 : ok.length / crit.length,
    critP99Ms: p99(ok.map((c) => c.ms)),
    bulkCalls: bulk.length,
    bulkShed: bulk.filter((b) => b.shed).length,
  };
  return { run, bulk };
}

async function deployAll(deploy: RuntimeHandle["deploy"]): Promise<void> {
  await deploy(await spinner("crit", "critical"));
  for (const name of BULK) await deploy(await spinner(name, "best-effort"));
}

export async function measureAdmission(durationS: number, progress: (message: string) => void): Promise<AdmissionResult> {
  progress(`admission: crit (critical) and 4 best-effort functions, 10 ms of CPU each; 8 callers flood best-effort for ${durationS} s`);
  const [limited, unlimited] = await Promise.all([
    startRuntime({ site: "busy", log: "warn", env: { EDGEFN_CPUS: "1" } }),
    startRuntime({ site: "baseline", log: "warn", env: { EDGEFN_CPUS: "64" } }),
  ]);
  let unloadedP99Ms: number;
  let withAdmission: AdmissionRun;
  let withoutAdmission: AdmissionRun;
  try {
    await Promise.all([deployAll(limited.deploy), deployAll(unlimited.deploy)]);
    for (let i = 0; i < 20; i++) await call(`${limited.url}/crit/`);
    const unloaded: number[] = [];
    for (let i = 0; i < 200; i++) unloaded.push((await call(`${limited.url}/crit/`)).ms);
    unloadedP99Ms = p99(unloaded);
    withAdmission = (await overload(limited.url, durationS)).run;
    withoutAdmission = (await overload(unlimited.url, durationS)).run;
  } finally {
    await Promise.all([limited.stop(), unlimited.stop()]);
  }

  progress("admission: the same flood at a site linked to a second one (best-effort spills over the VAN)");
  const [busy, roomy] = await Promise.all([startSite("busy", { log: "warn", env: { EDGEFN_CPUS: "1" } }), startSite("roomy", { log: "warn" })]);
  try {
    await linkSites(roomy, busy, 1);
    await deployAll(busy.deploy);
    for (const name of BULK) await roomy.deploy(await spinner(name, "best-effort"));
    for (const name of BULK) await waitServed(busy, name, "roomy");
    const { bulk } = await overload(busy.url, durationS);
    return {
      unloadedP99Ms,
      withAdmission,
      withoutAdmission,
      spill: {
        bulkCalls: bulk.length,
        servedElsewhere: bulk.filter((b) => b.status === 200 && b.site === "roomy").length,
        failed: bulk.filter((b) => b.status !== 200).length,
      },
    };
  } finally {
    await Promise.all([busy.stop(), roomy.stop()]);
  }
}
