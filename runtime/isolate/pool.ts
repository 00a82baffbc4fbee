/**
 * Keeps the hot set of functions warm: at most one sandbox per function version, the least
 * recently used idle ones disposed past `maxWarm` or after `idleMs`, and a few spare
 * isolates made ahead of time so a cold start only compiles (from V8 cached data) and
 * evaluates the function's module.
 */
import type ivm from "isolated-vm";
import { Sandbox, type SandboxBinding } from "./sandbox.ts";

/** One deployed function version, as the pool sees it. */
export interface PoolEntry {
  /** Unique per version, e.g. "hello@sha256:…". */
  readonly key: string;
  readonly memoryMb: number;
  readonly code: string;
  readonly filename: string;
  readonly binding: SandboxBinding;
  /** Filled by the first load; later loads skip parsing and compiling. */
  cachedData: ivm.ExternalCopy<ArrayBuffer> | undefined;
}

export interface PoolOptions {
  globalsScript: string;
  /** The runtime's log level: console calls below it cost nothing. */
  logLevel: string;
  /** Warm sandboxes kept at most (busy ones are never evicted). */
  maxWarm: number;
  /** A sandbox idle this long is disposed. */
  idleMs: number;
  /** Spare isolates kept ready, with this memory limit. */
  spares: number;
  spareMemoryMb: number;
  loadTimeoutMs: number;
}

/** How long upkeep (spare isolates, disposals) waits, so it runs after the current request. */
const DEFERRED_MS = 10;

export class IsolatePool {
  private readonly opts: PoolOptions;
  /** Warm sandboxes by entry key, in least-recently-used order (Map keeps insertion order). */
  private readonly warm = new Map<string, Sandbox>();
  private readonly loading = new Map<string, Promise<Sandbox>>();
  private readonly spares: Sandbox[] = [];
  private refilling = false;
  /** Isolate CPU time counted so far (ns), and what each warm sandbox had used when last counted. */
  private cpuNs = 0n;
  private readonly cpuSeen = new WeakMap<Sandbox, bigint>();
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: PoolOptions) {
    this.opts = opts;
    this.sweeper = setInterval(() => this.sweep(), Math.max(1_000, Math.min(opts.idleMs, 30_000)));
    this.sweeper.unref();
    this.refill();
  }

  /** A sandbox running this entry's code: the warm one, or a new one (a cold start). */
  acquire(entry: PoolEntry): Promise<Sandbox> {
    const sandbox = this.warm.get(entry.key);
    if (sandbox !== undefined && !sandbox.dead) {
      // Re-insert: most recently used goes last.
      this.warm.delete(entry.key);
      this.warm.set(entry.key, sandbox);
      return Promise.resolve(sandbox);
    }
    if (sandbox !== undefined) this.drop(entry.key);
    let pending = this.loading.get(entry.key);
    if (pending === undefined) {
      pending = this.load(entry).finally(() => this.loading.delete(entry.key));
      this.loading.set(entry.key, pending);
    }
    return pending;
  }

  /** Disposes the entry's sandbox once its requests finish (a replaced or removed version). */
  retire(key: string): void {
    const sandbox = this.warm.get(key);
    if (sandbox === undefined) return;
    this.warm.delete(key);
    disposeWhenIdle(sandbox);
  }

  /**
   * CPU time the isolates have used so far, in ns (monotonic): what each warm sandbox used since
   * it was last counted is added, from when it was first counted. A disposed isolate's last few
   * ms go uncounted, and so does a new one's first request.
   */
  isolateCpuNs(): bigint {
    for (const sandbox of this.warm.values()) {
      const used = sandbox.cpuTimeNs();
      if (used === undefined) continue;
      // First seen: what it used before (made as a spare, maybe long ago) is not load now.
      const seen = this.cpuSeen.get(sandbox) ?? used;
      this.cpuNs += used - seen;
      this.cpuSeen.set(sandbox, used);
    }
    return this.cpuNs;
  }

  stats(): { warm: number; spares: number; loading: number } {
    return { warm: this.warm.size, spares: this.spares.length, loading: this.loading.size };
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const sandbox of [...this.warm.values(), ...this.spares]) sandbox.dispose();
    this.warm.clear();
    this.spares.length = 0;
  }

  private async load(entry: PoolEntry): Promise<Sandbox> {
    const sandbox = await this.fresh(entry.memoryMb);
    try {
      const { cachedData } = await sandbox.load(entry.binding, {
        code: entry.code,
        filename: entry.filename,
        cachedData: entry.cachedData,
        loadTimeoutMs: this.opts.loadTimeoutMs,
      });
      entry.cachedData ??= cachedData;
    } catch (error) {
      sandbox.dispose();
      throw error;
    }
    this.warm.set(entry.key, sandbox);
    this.evictOver();
    return sandbox;
  }

  private async fresh(memoryMb: number): Promise<Sandbox> {
    const index = this.spares.findIndex((s) => s.memoryMb === memoryMb && !s.dead);
    const spare = index === -1 ? undefined : this.spares.splice(index, 1)[0];
    // Refill after this request has had its turn: making an isolate blocks this thread for
    // a few ms, which would otherwise land inside the very cold start it is meant to speed up.
    this.later(() => this.refill());
    if (spare !== undefined) return spare;
    return Sandbox.create({ memoryMb, ...this.sandboxOptions() });
  }

  private refill(): void {
    if (this.refilling || this.closed || this.spares.length >= this.opts.spares) return;
    this.refilling = true;
    Sandbox.create({ memoryMb: this.opts.spareMemoryMb, ...this.sandboxOptions() })
      .then(
        (sandbox) => {
          if (this.closed) sandbox.dispose();
          else this.spares.push(sandbox);
        },
        () => undefined,
      )
      .finally(() => {
        this.refilling = false;
        if (this.spares.length < this.opts.spares) setImmediate(() => this.refill());
      });
  }

  private sandboxOptions() {
    return { globalsScript: this.opts.globalsScript, logLevel: this.opts.logLevel };
  }

  /** Past maxWarm, dispose least recently used sandboxes that have no request in flight. */
  private evictOver(): void {
    if (this.warm.size <= this.opts.maxWarm) return;
    for (const [key, sandbox] of this.warm) {
      if (this.warm.size <= this.opts.maxWarm) break;
      if (sandbox.busy === 0) this.drop(key);
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - this.opts.idleMs;
    for (const [key, sandbox] of this.warm) {
      if (sandbox.dead || (sandbox.busy === 0 && sandbox.lastUsed < cutoff)) this.drop(key);
    }
  }

  private drop(key: string): void {
    const sandbox = this.warm.get(key);
    this.warm.delete(key);
    // Disposing an isolate takes a few ms on this thread: not inside the request that evicted it.
    if (sandbox !== undefined) this.later(() => sandbox.dispose());
  }

  /** Main-thread work that may wait until the request at hand is answered. */
  private later(work: () => void): void {
    setTimeout(work, DEFERRED_MS).unref();
  }
}

function disposeWhenIdle(sandbox: Sandbox): void {
  if (sandbox.busy === 0) {
    sandbox.dispose();
    return;
  }
  const timer = setInterval(() => {
    if (sandbox.busy === 0 || sandbox.dead) {
      clearInterval(timer);
      sandbox.dispose();
    }
  }, 50);
  timer.unref();
}
