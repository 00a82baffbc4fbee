/**
 * The isolate host: a child process of the supervisor (supervisor.ts) that runs functions in
 * isolates and serves the HTTP connections the supervisor hands it. isolated-vm can crash
 * this process (V8 out-of-memory); the supervisor then starts another one and replays the
 * deployments, so a crash costs only the requests that were in it.
 */
import type { Socket } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { Admission } from "./admission.ts";
import { parseRuntimeConfig } from "./config.ts";
import { RuntimeError } from "./errors.ts";
import { accessDenied, FunctionTable } from "./functions.ts";
import { invoke, type InvokeDeps } from "./invoke.ts";
import { createLogger } from "./log.ts";
import { createIngressApp } from "./server.ts";
import { createEgressFetch } from "./isolate/egress.ts";
import { globalsScript } from "./isolate/globals-script.ts";
import { IsolatePool } from "./isolate/pool.ts";
import type { ResponseWire } from "./isolate/wire.ts";
import { startVan, VAN_DEADLINE_MS, type Van } from "./van.ts";
import { WorkerRequestSchema, type WorkerReply, type WorkerReplyAny, type WorkerRequest } from "./ipc.ts";

const config = parseRuntimeConfig(process.env);
const logger = createLogger(config.EDGEFN_LOG).child({ site: config.EDGEFN_SITE_NAME });

const pool = new IsolatePool({
  globalsScript: await globalsScript(),
  logLevel: config.EDGEFN_LOG,
  maxWarm: config.EDGEFN_MAX_WARM,
  idleMs: config.EDGEFN_IDLE_MS,
  spares: config.EDGEFN_SPARES,
  spareMemoryMb: 128,
  loadTimeoutMs: 5_000,
});

const admission = new Admission({
  cpus: config.EDGEFN_CPUS,
  isolateCpuNs: () => pool.isolateCpuNs(),
  logger,
  onChange: () => van?.refill(),
});

const invokeDeps: InvokeDeps = {
  admission,
  pool,
  site: config.EDGEFN_SITE_NAME,
  region: config.EDGEFN_REGION,
  logger,
  // Every finished request frees a slot the VAN may offer again (set once the VAN exists).
  onFinish: (fn) => van?.freed(fn.name),
};

const functions: FunctionTable = new FunctionTable({
  pool,
  logger,
  egress: (service, allow) => createEgressFetch({ service, allow }),
  callService: async (caller, target, request, requestId): Promise<ResponseWire> => {
    const fn = functions.get(target);
    if (fn === undefined && van === undefined) throw new TypeError(`service "${target}" is not deployed at site ${config.EDGEFN_SITE_NAME}`);
    // A refusal rejects the binding's fetch() (a TypeError inside the isolate), not an HTTP answer.
    const denied = fn === undefined ? undefined : accessDenied(fn, caller);
    if (denied !== undefined) throw new TypeError(denied.message);
    try {
      if (fn === undefined) {
        // Not here: over the VAN, within the calling function's own time limit.
        const timeoutMs = functions.get(caller)?.manifest.spec.limits.timeoutMs ?? VAN_DEADLINE_MS;
        return await van!.call(target, request, requestId, Date.now() + timeoutMs, { caller });
      }
      const { head, body } = await invoke(invokeDeps, fn, request, requestId);
      const bytes = body instanceof ReadableStream ? new Uint8Array(await new Response(body).arrayBuffer()) : body;
      return { ...head, body: bytes, stream: null };
    } catch (error) {
      if (!(error instanceof RuntimeError)) throw error;
      // The caller sees the callee's failure as an HTTP response, as it would over the network.
      const response = error.toResponse(requestId);
      return {
        status: response.status,
        statusText: "",
        headers: [...response.headers],
        body: new Uint8Array(await response.arrayBuffer()),
        stream: null,
      };
    }
  },
});

const van: Van | undefined = config.EDGEFN_VAN === undefined ? undefined : startVan({ ...invokeDeps, address: config.EDGEFN_VAN, functions });

const app = createIngressApp({ ...invokeDeps, functions, van });
const server = createAdaptorServer({ fetch: app.fetch });

async function answer(request: WorkerRequest): Promise<WorkerReply["result"]> {
  switch (request.method) {
    case "deploy": {
      const fn = await functions.deploy(request.deployment, { verify: request.verify, version: request.version });
      van?.sync();
      return { name: fn.name, digest: fn.digest, version: fn.version };
    }
    case "remove": {
      const removed = functions.remove(request.name);
      van?.sync();
      return { removed };
    }
    case "secrets":
      functions.setSecrets(request.name, request.secrets);
      return { secrets: Object.keys(request.secrets).length };
    case "load":
      return admission.sample();
  }
}

process.on("message", (message: unknown, handle: unknown) => {
  if (typeof message === "object" && message !== null && "event" in message && message.event === "connection") {
    const socket = handle as Socket | undefined;
    if (socket !== undefined) server.emit("connection", socket);
    process.send?.({ event: "connection-ack", id: (message as { id?: unknown }).id });
    return;
  }
  const parsed = WorkerRequestSchema.safeParse(message);
  if (!parsed.success) {
    logger.warn({ scope: "runtime:worker" }, "ignored a malformed message from the supervisor");
    return;
  }
  const { id } = parsed.data;
  answer(parsed.data).then(
    (result) => process.send?.({ id, ok: true, result } satisfies WorkerReply),
    (error: unknown) => {
      const failure =
        error instanceof RuntimeError
          ? error
          : new RuntimeError("ERR_INTERNAL", error instanceof Error ? error.message : String(error), { cause: error });
      process.send?.({ id, ok: false, error: { ...failure.toJSON(), status: failure.status } } satisfies WorkerReplyAny);
    },
  );
});

// A stray rejection in host code must not take every function in this process down with it.
process.on("unhandledRejection", (reason) => {
  logger.error({ scope: "runtime:worker", err: reason }, "unhandled rejection in the isolate host");
});

process.on("SIGTERM", () => {
  server.close();
  // The VAN first: detach (drain) so the router sends calls elsewhere, then stop.
  void (van?.close() ?? Promise.resolve()).finally(() => {
    pool.close();
    process.exit(0);
  });
});

process.on("disconnect", () => {
  // The supervisor is gone: nobody can hand us connections or restart us.
  pool.close();
  process.exit(0);
});

process.send?.({ event: "worker-ready" });
