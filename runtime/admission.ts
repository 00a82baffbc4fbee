/**
 * Admission by priority (DESIGN.md "Priorities"): the isolate host measures its own saturation
 * and, when saturated, admits fewer requests of the lowest priorities first; critical is never
 * refused here.
 *
 * Pressure, sampled every SAMPLE_MS and smoothed: the larger of
 *   - isolate CPU: CPU time the isolates used in the interval / (interval x the site's CPUs,
 *     EDGEFN_CPUS), from isolated-vm's per-isolate cpuTime;
 *   - event-loop delay: p99 of this process's loop delay in the interval / LAG_SATURATED_MS.
 * Each priority but critical has a limit on its requests in flight (AIMD, like TCP's window):
 * while the pressure is at or over SHED_AT[priority] the limit halves (from what is in flight)
 * every sample; below it minus HYSTERESIS it grows by one per sample, until unlimited again. So
 * the lowest priorities give way first and come back gradually, without the bursts an on/off
 * switch makes. A request over its priority's limit goes to another site over the VAN where
 * one can take it (the ingress spills it; the VAN consumer releases it and offers no credit),
 * else 503 ERR_SHED with Retry-After. Every change between unlimited and limited is logged
 * with the figures that caused it.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { RuntimeError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { PRIORITIES, type Priority } from "./manifest.ts";

const SAMPLE_MS = 100;
/** Weight of the newest sample in the smoothed pressure. */
const SMOOTHING = 0.5;
const LAG_SATURATED_MS = 100;
const HYSTERESIS = 0.1;
/** A limit this high is no limit. */
const UNLIMITED = 100_000;
/** Pressure at which each priority starts being refused. */
export const SHED_AT: Readonly<Record<Priority, number>> = {
  critical: Number.POSITIVE_INFINITY,
  high: 0.97,
  normal: 0.9,
  low: 0.8,
  "best-effort": 0.7,
};

export interface AdmissionSample {
  /** Smoothed pressure: 1 = the site's CPUs fully used by isolates (or the loop 100 ms late). */
  pressure: number;
  isolateCpu: number;
  lagMs: number;
  /** Priorities limited now, lowest first. */
  shedding: Priority[];
  /** Requests in flight admitted at most, per limited priority. */
  limits: Partial<Record<Priority, number>>;
}

export interface AdmissionOptions {
  /** CPUs the isolates may use (the site's budget). */
  cpus: number;
  /** Isolate CPU time used so far, in ns, by the isolates alive now and before. */
  isolateCpuNs: () => bigint;
  logger: Logger;
  /** Called when the refused set changes (credit is offered again for admitted priorities). */
  onChange?: (sample: AdmissionSample) => void;
}

export class Admission {
  readonly #opts: AdmissionOptions;
  readonly #lag: ReturnType<typeof monitorEventLoopDelay>;
  readonly #timer: NodeJS.Timeout;
  readonly #limit = new Map<Priority, number>(PRIORITIES.map((p) => [p, UNLIMITED]));
  readonly #inflight = new Map<Priority, number>(PRIORITIES.map((p) => [p, 0]));
  #lastCpuNs: bigint;
  #lastAt = process.hrtime.bigint();
  #sample: AdmissionSample = { pressure: 0, isolateCpu: 0, lagMs: 0, shedding: [], limits: {} };

  constructor(opts: AdmissionOptions) {
    this.#opts = opts;
    this.#lastCpuNs = opts.isolateCpuNs();
    this.#lag = monitorEventLoopDelay({ resolution: 10 });
    this.#lag.enable();
    this.#timer = setInterval(() => this.#tick(), SAMPLE_MS);
    this.#timer.unref();
  }

  /** Whether a request of `priority` may start here now. */
  admits(priority: Priority): boolean {
    return priority === "critical" || this.#inflight.get(priority)! < this.#limit.get(priority)!;
  }

  /** A request of `priority` started (admitted or not: critical always is). */
  enter(priority: Priority): void {
    this.#inflight.set(priority, this.#inflight.get(priority)! + 1);
  }

  leave(priority: Priority): void {
    this.#inflight.set(priority, Math.max(0, this.#inflight.get(priority)! - 1));
  }

  sample(): AdmissionSample {
    return this.#sample;
  }

  /** The 503 a refused request gets when no other site takes it. */
  refusal(name: string, priority: Priority): RuntimeError {
    const { isolateCpu, lagMs } = this.#sample;
    return new RuntimeError("ERR_SHED", `site busy: limiting ${priority} requests (isolate CPU ${Math.round(isolateCpu * 100)}%, loop delay ${Math.round(lagMs)} ms); "${name}" is ${priority}`, {
      status: 503,
      headers: { "retry-after": "1" },
      hint: "retry after a moment; functions of higher spec.priority are still served here, and another site with room takes this one when the site is on a VAN",
    });
  }

  close(): void {
    clearInterval(this.#timer);
    this.#lag.disable();
  }

  #tick(): void {
    const now = process.hrtime.bigint();
    const cpuNs = this.#opts.isolateCpuNs();
    const wallNs = Number(now - this.#lastAt);
    const isolateCpu = wallNs > 0 ? Number(cpuNs - this.#lastCpuNs) / (wallNs * this.#opts.cpus) : 0;
    this.#lastAt = now;
    this.#lastCpuNs = cpuNs;
    const lagMs = Number.isFinite(this.#lag.percentile(99)) ? this.#lag.percentile(99) / 1e6 : 0;
    this.#lag.reset();
    const instant = Math.max(Math.max(0, isolateCpu), Math.max(0, lagMs - 10) / LAG_SATURATED_MS);
    const pressure = SMOOTHING * instant + (1 - SMOOTHING) * this.#sample.pressure;
    const before = this.#sample.shedding.join();
    let grew = false;
    for (const priority of PRIORITIES) {
      if (priority === "critical") continue;
      const limit = this.#limit.get(priority)!;
      if (pressure >= SHED_AT[priority]) {
        this.#limit.set(priority, Math.floor(Math.min(limit, this.#inflight.get(priority)!) / 2));
      } else if (pressure < SHED_AT[priority] - HYSTERESIS && limit < UNLIMITED) {
        const next = limit + 1 > 64 ? UNLIMITED : limit + 1; // past 64 in flight, a limit no longer protects anything
        this.#limit.set(priority, next);
        grew = true;
      }
    }
    const limited = [...PRIORITIES].reverse().filter((p) => this.#limit.get(p)! < UNLIMITED);
    const limits = Object.fromEntries(limited.map((p) => [p, this.#limit.get(p)!]));
    this.#sample = { pressure, isolateCpu, lagMs, shedding: limited, limits };
    if (grew) this.#opts.onChange?.(this.#sample); // credit may be offered again
    if (limited.join() === before) return;
    const figures = { pressure: round(pressure), isolateCpu: round(isolateCpu), lagMs: round(lagMs), cpus: this.#opts.cpus, limits };
    if (limited.length > 0) this.#opts.logger.warn({ scope: "runtime:admission", shedding: limited, ...figures }, `saturated: limiting ${limited.join(", ")} requests`);
    else this.#opts.logger.info({ scope: "runtime:admission", ...figures }, "no longer saturated: admitting every priority");
    this.#opts.onChange?.(this.#sample);
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
