/**
 * One bounded load run against a loopback URL with autocannon: fixed connections and
 * duration, keep-alive, no pipelining. Latencies are taken per response at sub-millisecond
 * precision (autocannon's own histogram rounds to whole milliseconds, too coarse here).
 */
import autocannon from "autocannon";

export interface LoadOptions {
  connections: number;
  durationS: number;
}

export interface LoadResult {
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Socket errors, timeouts and non-2xx answers together; any is a red flag. */
  failures: number;
}

const MAX_CONNECTIONS = 256;
const MAX_DURATION_S = 60;

export function runLoad(url: string, opts: LoadOptions): Promise<LoadResult> {
  const { hostname } = new URL(url);
  if (hostname !== "127.0.0.1" && hostname !== "localhost") {
    throw new Error(`the bench only loads loopback servers, not ${hostname}`);
  }
  const connections = Math.min(opts.connections, MAX_CONNECTIONS);
  const duration = Math.min(opts.durationS, MAX_DURATION_S);
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url, connections, duration, pipelining: 1, timeout: 10 }, (err, result) => {
      if (err) return reject(err);
      resolve({
        requestsPerS: result.requests.total / duration,
        p50Ms: percentile(latencies, 0.5),
        p99Ms: percentile(latencies, 0.99),
        requests: result.requests.total,
        failures: result.errors + result.timeouts + result.non2xx,
      });
    });
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}

/** Nearest-rank percentile of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}
