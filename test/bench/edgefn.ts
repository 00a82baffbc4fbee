/**
 * edgefn under the bench: a real runtime process (test/helpers/runtime.ts) serving copies of
 * functions/hello, built once with esbuild. Cold start and memory are measured here; warm
 * throughput goes through load.ts like the baselines.
 */
import { Agent, get } from "node:http";
import { setTimeout } from "node:timers/promises";
import { buildFunctionDir, digestOf } from "../helpers/bundle.ts";
import { REPO_ROOT, startRuntime } from "../helpers/runtime.ts";
import type { Deployment, RuntimeHandle } from "../helpers/runtime.ts";
import { percentile } from "./load.ts";
import { treeRssBytes } from "./proc.ts";

export const HELLO_DIR = `${REPO_ROOT}functions/hello`;

export function startEdgefn(env: Record<string, string> = {}): Promise<RuntimeHandle> {
  // warn: keeps the function's per-request console.log off stdout, as in production.
  return startRuntime({ site: "bench", log: "warn", env });
}

export function buildHello(): Promise<Deployment> {
  return buildFunctionDir(HELLO_DIR);
}

/**
 * A copy of `base` deployed as `name`. Its code gets a unique trailing comment, so no cache
 * keyed by code or digest can share work between copies: each is a distinct function.
 */
export function copyAs(base: Deployment, name: string): Deployment {
  const code = `${base.bundle.code}\n// ${name}\n`;
  return {
    manifest: { ...base.manifest, metadata: { ...base.manifest.metadata, name } },
    bundle: { code, sourceMap: base.bundle.sourceMap, digest: digestOf(code) },
  };
}

/** Deploys every copy, `parallel` PUTs at a time. */
export async function deployAll(rt: RuntimeHandle, deployments: Deployment[], parallel = 4): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < deployments.length) await rt.deploy(deployments[next++]!);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** Time (ms) of one GET over a kept-alive loopback connection, until the body has ended. */
export function timeGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    get(url, { agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.once("end", () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url} answered ${res.statusCode}: ${body.slice(0, 300)}`));
        else resolve(performance.now() - started);
      });
    }).once("error", reject);
  });
}

export interface ColdStart {
  functions: number;
  p50Ms: number;
  p99Ms: number;
  /** The second request to the same functions, for scale: what warm costs over this client. */
  warmP50Ms: number;
  /** Requests that did not answer 200 (left out of the percentiles), and the first reason. */
  failures: number;
  firstFailure: string | null;
}

/** Cold requests arrive this far apart, as first requests to different functions do. */
const COLD_GAP_MS = 25;

/**
 * In a fresh runtime that keeps only a few isolates warm: deploys `count` distinct copies of
 * hello (deploying verifies each in an isolate, and the pool then evicts all but the last
 * few), times the first request to each of the `count` functions whose isolate is gone, one
 * at a time, then a second round. With EDGEFN_MAX_WARM below `count`, the second round is
 * cold again too, so the warm figure comes from repeating one function.
 */
export async function measureColdStart(hello: Deployment, count: number): Promise<ColdStart> {
  const keepWarm = 4;
  const rt = await startEdgefn({ EDGEFN_MAX_WARM: String(keepWarm) });
  try {
    const names = Array.from({ length: count + keepWarm }, (_, i) => `cold-${i}`);
    await deployAll(rt, names.map((name) => copyAs(hello, name)));
    const failed: string[] = [];
    const timeAll = async (targets: string[]) => {
      const times: number[] = [];
      for (const name of targets) {
        await setTimeout(COLD_GAP_MS);
        await timeGet(`${rt.url}/${name}/`).then(
          (ms) => times.push(ms),
          (err: Error) => failed.push(err.message),
        );
      }
      return times;
    };
    // The first `count` were evicted while the last `keepWarm` were deployed.
    const cold = await timeAll(names.slice(0, count));
    const warm = await timeAll(Array.from({ length: count }, () => names[count - 1]!));
    return {
      functions: count,
      p50Ms: percentile(cold, 0.5),
      p99Ms: percentile(cold, 0.99),
      warmP50Ms: percentile(warm, 0.5),
      failures: failed.length,
      firstFailure: failed[0] ?? null,
    };
  } finally {
    await rt.stop();
  }
}

export interface Memory {
  deployed: number;
  warm: number;
  /** RSS of the runtime's process tree, in MB: freshly started, all deployed, some warm. */
  idleMb: number;
  deployedMb: number;
  warmMb: number;
  /** Warming requests that did not answer 200. */
  failures: number;
  firstFailure?: string;
}

/**
 * In a fresh runtime: deploy `deployed` distinct functions, warm `warm` of them, read RSS.
 * Deploying verifies each function in an isolate, so the pool's warm set is full already;
 * the requests then make `warm` of the deployed functions the warm ones.
 */
export async function measureMemory(hello: Deployment, deployed: number, warm: number): Promise<Memory> {
  // The scenario is "`warm` of them warm": the runtime is told to keep that many.
  const rt = await startEdgefn({ EDGEFN_MAX_WARM: String(warm) });
  try {
    const rss = () => treeRssBytes(rt.pid) / (1024 * 1024);
    const idleMb = rss();
    const names = Array.from({ length: deployed }, (_, i) => `fn-${i}`);
    await deployAll(rt, names.map((name) => copyAs(hello, name)));
    const deployedMb = rss();
    let failures = 0;
    let firstFailure: string | undefined;
    for (const name of names.slice(0, warm)) {
      await timeGet(`${rt.url}/${name}/`).catch((error: Error) => {
        failures++;
        firstFailure ??= error.message;
      });
    }
    await setTimeout(1_000); // let the last requests' garbage settle before reading
    const warmMb = rss();
    return { deployed, warm, idleMb, deployedMb, warmMb, failures, ...(firstFailure === undefined ? {} : { firstFailure }) };
  } finally {
    await rt.stop();
  }
}
