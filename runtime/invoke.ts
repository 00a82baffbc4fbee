/**
 * Runs one request through a deployed function with its limits: concurrency, wall-clock
 * timeout (to the response head and between body chunks), and the CPU and memory limits the
 * sandbox enforces. Used by the HTTP ingress and by service bindings alike.
 */
import type { Logger } from "./log.ts";
import { RuntimeError } from "./errors.ts";
import type { DeployedFunction } from "./functions.ts";
import type { Admission } from "./admission.ts";
import type { IsolatePool } from "./isolate/pool.ts";
import type { Sandbox } from "./isolate/sandbox.ts";
import type { ContextWire, EnvWire, RequestWire, ResponseWire } from "./isolate/wire.ts";

export interface InvokeDeps {
  pool: IsolatePool;
  site: string;
  region: string;
  logger: Logger;
  /** Admission by priority: absent, everything is admitted. */
  admission?: Admission | undefined;
  /** A request of `fn` finished (a slot is free again): the VAN offers it as credit. */
  onFinish?: ((fn: DeployedFunction) => void) | undefined;
}

export interface InvokeResult {
  head: ResponseWire;
  /** The whole body, a stream of it, or none. */
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>> | null;
}

export function concurrencyLimit(name: string, concurrency: number): RuntimeError {
  return new RuntimeError("ERR_CONCURRENCY_LIMIT", `function "${name}" already has ${concurrency} requests in flight`, {
    status: 503,
    headers: { "retry-after": "1" },
    hint: "retry after a moment, or raise spec.limits.concurrency in edgefn.yaml",
  });
}

/**
 * A request that would wait longer than its function's timeoutMs before the isolate even gets
 * to it (one isolate runs one request's code at a time: the CPU work of those ahead of it) is
 * refused now, not after waiting out its budget.
 */
export function cannotStartInTime(fn: DeployedFunction): RuntimeError | undefined {
  const waitMs = fn.inflight * fn.cpuPerCallMs;
  const { timeoutMs } = fn.manifest.spec.limits;
  if (fn.inflight === 0 || waitMs < timeoutMs) return undefined;
  return new RuntimeError("ERR_SHED", `function "${fn.name}" cannot start this request in time: ${fn.inflight} ahead of it, ~${Math.round(fn.cpuPerCallMs)} ms of CPU each, over its ${timeoutMs} ms limit`, {
    status: 503,
    headers: { "retry-after": "1" },
    hint: "retry after a moment; another site with room takes it when the site is on a VAN",
  });
}

export async function invoke(
  deps: InvokeDeps,
  fn: DeployedFunction,
  request: RequestWire,
  requestId: string,
): Promise<InvokeResult> {
  const { limits } = fn.manifest.spec;
  if (fn.inflight >= limits.concurrency) throw concurrencyLimit(fn.name, limits.concurrency);
  const late = cannotStartInTime(fn);
  if (late !== undefined) throw late;
  const alone = fn.inflight === 0;
  fn.inflight++;
  deps.admission?.enter(fn.manifest.spec.priority);
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    fn.inflight--;
    deps.admission?.leave(fn.manifest.spec.priority);
    deps.onFinish?.(fn);
  };
  const deadline = Date.now() + limits.timeoutMs;
  let sandbox: Sandbox | undefined;
  try {
    sandbox = await withDeadline(deps.pool.acquire(fn.entry), deadline, fn);
    const ctx: ContextWire = { site: deps.site, region: deps.region, priority: fn.manifest.spec.priority, requestId };
    const env: EnvWire = { vars: fn.vars(), services: fn.manifest.spec.services };
    const cpuBefore = alone ? sandbox.cpuTimeNs() : undefined;
    const head = await withDeadline(sandbox.dispatch(request, ctx, env), deadline, fn);
    const running = sandbox;
    const afterwards = () => {
      const cpuAfter = cpuBefore === undefined || fn.inflight !== 1 ? undefined : running.cpuTimeNs();
      if (cpuBefore !== undefined && cpuAfter !== undefined) {
        // Alone start to end: the isolate's CPU time in between was this request's.
        const ms = Number(cpuAfter - cpuBefore) / 1e6;
        fn.cpuPerCallMs = fn.cpuPerCallMs === 0 ? ms : 0.8 * fn.cpuPerCallMs + 0.2 * ms;
      }
      finish();
      if (head.waitUntil === true) {
        // ctx.waitUntil() work goes on after the response: keep the isolate until it is done.
        const release = running.hold();
        void withDeadline(running.settled(requestId), Date.now() + limits.timeoutMs, fn)
          .catch(() => undefined)
          .finally(release);
      }
    };
    if (head.stream === null) {
      afterwards();
      return { head, body: head.body };
    }
    return { head, body: streamBody(running, head.stream, fn, afterwards) };
  } catch (error) {
    finish();
    if (error instanceof RuntimeError && error.code === "ERR_FUNCTION_THREW") {
      const stack = sandbox?.stackOf(error);
      deps.logger.error({ scope: "fn", service: fn.name, requestId, code: error.code, stack }, error.message);
    }
    throw error;
  }
}

/** Reads a streaming body out of the isolate chunk by chunk, as the client reads it. */
function streamBody(sandbox: Sandbox, stream: number, fn: DeployedFunction, done: () => void): ReadableStream<Uint8Array<ArrayBuffer>> {
  const release = sandbox.hold();
  const end = () => {
    release();
    done();
  };
  const { timeoutMs } = fn.manifest.spec.limits;
  return new ReadableStream<Uint8Array<ArrayBuffer>>(
    {
      async pull(controller) {
        try {
          const chunk = await withDeadline(sandbox.pull(stream), Date.now() + timeoutMs, fn);
          if (chunk === null) {
            end();
            controller.close();
          } else {
            controller.enqueue(chunk);
          }
        } catch (error) {
          end();
          controller.error(error);
        }
      },
      cancel() {
        sandbox.cancel(stream);
        end();
      },
    },
    { highWaterMark: 0 },
  );
}

function withDeadline<T>(promise: Promise<T>, deadline: number, fn: DeployedFunction): Promise<T> {
  const ms = deadline - Date.now();
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new RuntimeError("ERR_FUNCTION_TIMEOUT", `function "${fn.name}" did not respond within ${fn.manifest.spec.limits.timeoutMs} ms`, {
          status: 504,
          hint: "respond sooner (move slow work into ctx.waitUntil), or raise spec.limits.timeoutMs in edgefn.yaml",
        }),
      );
    }, Math.max(0, ms));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
