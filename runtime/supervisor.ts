/**
 * The runtime's long-lived process side: it owns the HTTP listener and runs the isolates in
 * a child process (worker.ts) that it restarts when it dies. Connections are handed to the
 * worker one by one and wait while it restarts; `restore` (site.ts) puts every deployment
 * back into a new worker before it serves. The worker's log lines pass through a LogTap.
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import type { RuntimeConfig } from "./config.ts";
import { RuntimeError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { WorkerReplySchema, type WorkerCall } from "./ipc.ts";
import { LogTap } from "./log-tap.ts";

const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));
/** Connections waiting for a worker; past this they are closed instead. */
const MAX_QUEUED = 4096;
const RESTART_MAX_DELAY_MS = 5_000;
const STOP_GRACE_MS = 3_000;

export interface Supervisor {
  readonly port: number;
  readonly host: string;
  /** The worker's log lines (function console lines, requests, deploys). */
  readonly logs: LogTap;
  /** Calls the worker once it is ready; rejects with the worker's RuntimeError. */
  rpc(call: WorkerCall): Promise<unknown>;
  /** The worker's pid, for tests that crash it. */
  workerPid(): number | undefined;
  /** Times the worker was restarted after dying. */
  restarts(): number;
  close(): Promise<void>;
}

/** Puts the site's functions into a new worker, through `call` (usable before it is ready). */
export type Restore = (call: (request: WorkerCall) => Promise<unknown>) => Promise<void>;

interface Pending {
  resolve(value: unknown): void;
  reject(error: RuntimeError): void;
}

export async function startSupervisor(config: RuntimeConfig, logger: Logger, restore: Restore): Promise<Supervisor> {
  const log = logger.child({ scope: "runtime:supervisor" });
  const logs = new LogTap();
  const queue: Socket[] = [];
  /** Sockets sent to the worker and not yet acknowledged: still ours if it dies first. */
  const unacked = new Map<number, Socket>();
  let nextSocketId = 1;
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let worker: ChildProcess | undefined;
  let ready = false;
  let closing = false;
  let restarts = 0;
  let recentCrashes: number[] = [];
  let readyWaiters: (() => void)[] = [];

  // Paused: the worker reads the connection, not us.
  const ingress: Server = createServer({ pauseOnConnect: true }, (socket) => hand(socket));

  /** Gives a connection to the worker, or queues it while there is none ready. */
  function hand(socket: Socket): void {
    const target = worker;
    if (target === undefined || !ready) {
      requeue(socket);
      return;
    }
    const id = nextSocketId++;
    unacked.set(id, socket);
    // keepOpen: our copy stays open until the worker says it has the socket, so a worker
    // that dies with the message still in the pipe does not take the connection with it.
    target.send({ event: "connection", id }, socket, { keepOpen: true }, (error) => {
      if (error !== null && error !== undefined && unacked.delete(id)) requeue(socket);
    });
  }

  /** Waits for the next ready worker; past MAX_QUEUED the connection is closed instead. */
  function requeue(socket: Socket): void {
    if (!socket.destroyed && queue.length < MAX_QUEUED) queue.push(socket);
    else socket.destroy();
  }

  /** Calls the worker once it is ready (deploys and removes wait out a restart). */
  function rpc(request: WorkerCall): Promise<unknown> {
    return whenReady().then(() => rpcNow(request));
  }

  /** Calls the worker now: the replay after a restart runs before it counts as ready. */
  function rpcNow(request: WorkerCall): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker?.send({ ...request, id });
    });
  }

  function whenReady(): Promise<void> {
    if (ready) return Promise.resolve();
    return new Promise((resolve) => readyWaiters.push(resolve));
  }

  function startWorker(): void {
    const child = fork(WORKER, [], {
      execArgv: ["--no-node-snapshot"],
      serialization: "advanced",
      stdio: ["ignore", "pipe", "inherit", "ipc"],
      env: { MALLOC_ARENA_MAX: "2", ...process.env, ...configEnv(config) },
    });
    worker = child;
    logs.attach(child.stdout!);
    child.on("message", (message: unknown) => {
      if (typeof message === "object" && message !== null && "event" in message) {
        if (message.event === "worker-ready") void replay(child);
        if (message.event === "connection-ack" && "id" in message && typeof message.id === "number") {
          unacked.get(message.id)?.destroy(); // closes our copy only; the worker has its own
          unacked.delete(message.id);
        }
        return;
      }
      const reply = WorkerReplySchema.safeParse(message);
      if (!reply.success) return;
      const call = pending.get(reply.data.id);
      if (call === undefined) return;
      pending.delete(reply.data.id);
      if (reply.data.ok) {
        call.resolve(reply.data.result);
      } else {
        const { code, message: text, hint, status } = reply.data.error;
        call.reject(new RuntimeError(code as RuntimeError["code"], text, { status, ...(hint === undefined ? {} : { hint }) }));
      }
    });
    child.on("exit", (code, signal) => {
      if (worker === child) {
        worker = undefined;
        ready = false;
      }
      const failure = new RuntimeError("ERR_ISOLATE_CRASHED", "the isolate host process stopped while handling this", {
        status: 503,
        headers: { "retry-after": "1" },
        hint: "retry; the runtime restarts its isolate host at once",
      });
      for (const call of pending.values()) call.reject(failure);
      pending.clear();
      for (const socket of unacked.values()) requeue(socket);
      unacked.clear();
      if (closing) return;
      const now = Date.now();
      recentCrashes = [...recentCrashes.filter((t) => now - t < 10_000), now];
      const delay = recentCrashes.length <= 1 ? 0 : Math.min(RESTART_MAX_DELAY_MS, 100 * 2 ** (recentCrashes.length - 2));
      restarts++;
      log.error({ code, signal, restartInMs: delay, queued: queue.length }, "isolate host process died; restarting it");
      setTimeout(() => {
        if (!closing) startWorker();
      }, delay).unref();
    });
  }

  async function replay(child: ChildProcess): Promise<void> {
    try {
      await restore(rpcNow);
    } catch (error) {
      log.error({ err: error }, "could not restore the site's functions into the new worker");
    }
    if (worker !== child) return;
    ready = true;
    const waiters = readyWaiters;
    readyWaiters = [];
    for (const resolve of waiters) resolve();
    for (const socket of queue.splice(0)) hand(socket);
  }

  ingress.listen({ host: config.EDGEFN_HTTP.host, port: config.EDGEFN_HTTP.port });
  await once(ingress, "listening");
  startWorker();
  await whenReady();
  const address = ingress.address() as AddressInfo;

  return {
    port: address.port,
    host: address.address,
    logs,
    rpc,
    workerPid: () => worker?.pid,
    restarts: () => restarts,
    async close() {
      closing = true;
      ingress.close();
      for (const socket of queue.splice(0)) socket.destroy();
      const child = worker;
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** The worker reads its configuration from the environment, as main.ts does. */
function configEnv(config: RuntimeConfig): Record<string, string> {
  return {
    EDGEFN_CONTROL_TOKEN: config.EDGEFN_CONTROL_TOKEN,
    EDGEFN_SITE_NAME: config.EDGEFN_SITE_NAME,
    EDGEFN_REGION: config.EDGEFN_REGION,
    EDGEFN_LOG: config.EDGEFN_LOG,
    EDGEFN_MAX_WARM: String(config.EDGEFN_MAX_WARM),
    EDGEFN_IDLE_MS: String(config.EDGEFN_IDLE_MS),
    EDGEFN_SPARES: String(config.EDGEFN_SPARES),
    EDGEFN_CPUS: String(config.EDGEFN_CPUS),
    ...(config.EDGEFN_VAN === undefined ? {} : { EDGEFN_VAN: hostPort(config.EDGEFN_VAN) }),
  };
}

function hostPort({ host, port }: { host: string; port: number }): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
