/**
 * Starts `runtime/main.ts` as a child process for `edgefn dev` and `edgefn site up`: waits for its ready line
 * (`{"event":"ready",...}`, safeParse'd; other lines are passed on), and stops it with
 * SIGTERM, then SIGKILL after a grace period. Modelled on miniflare's waitForPorts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { getCompileCacheDir } from "node:module";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { Trust } from "../runtime/network-api.ts";
import { CliError } from "./errors.ts";

export const RUNTIME_MAIN = fileURLToPath(new URL("../runtime/main.ts", import.meta.url));
/** A site's process (`edgefn site up`): the runtime and the GitOps agent. */
export const SITE_MAIN = fileURLToPath(new URL("./site-main.ts", import.meta.url));

export const ReadyLineSchema = z
  .object({
    event: z.literal("ready"),
    port: z.number().int(),
    url: z.string(),
    controlPort: z.number().int(),
    controlUrl: z.string(),
    /** The VAN listener's port, when the site was started with one (EDGEFN_VAN_LISTEN). */
    vanPort: z.number().int().optional(),
  })
  .loose();
export type ReadyLine = z.output<typeof ReadyLineSchema>;

export interface RuntimeProcessOptions {
  host: string;
  port: number;
  site: string;
  /** EDGEFN_REGION; the runtime's default when absent. */
  region?: string;
  /** The control API's address; default 127.0.0.1, any free port. */
  control?: { host: string; port: number };
  /** The site's inter-site (mutual TLS) listener, EDGEFN_VAN_LISTEN; no VAN when absent. */
  van?: { host: string; port: number };
  /** EDGEFN_SITE_TRUST: what the site says it is when it joins a VAN (site.json's trust). */
  trust?: Trust;
  /** The control token; default a fresh random one (edgefn dev). */
  token?: string;
  /** The flags that set the addresses, for the hint when one is taken. */
  addressFlags?: string;
  /** Every stdout line except the ready line, and every stderr line, as they come. */
  onLine: (line: string, stream: "stdout" | "stderr") => void;
  readyTimeoutMs?: number;
  /** Defaults to RUNTIME_MAIN; tests point it at a stand-in. */
  entry?: string;
  /** Node binary; defaults to the one running the cli (Node 24, for type stripping). */
  execPath?: string;
  env?: Record<string, string>;
  /** Aborting while the runtime starts stops it and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface RuntimeProcess {
  ready: ReadyLine;
  /** Bearer token for the control API. */
  token: string;
  /** Settles when the child exits, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Recent output, for explaining a crash. */
  tail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
  stop(graceMs?: number): Promise<void>;
}

const TAIL_LINES = 40;

export async function startRuntimeProcess(opts: RuntimeProcessOptions): Promise<RuntimeProcess> {
  const token = opts.token ?? randomBytes(32).toString("hex");
  const control = opts.control ?? { host: "127.0.0.1", port: 0 };
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  const child: ChildProcess = spawn(opts.execPath ?? process.execPath, ["--no-node-snapshot", opts.entry ?? RUNTIME_MAIN], {
    env: {
      ...process.env,
      EDGEFN_HTTP: hostPort(opts.host, opts.port),
      EDGEFN_CONTROL: hostPort(control.host, control.port),
      EDGEFN_CONTROL_TOKEN: token,
      EDGEFN_SITE_NAME: opts.site,
      ...(opts.region === undefined ? {} : { EDGEFN_REGION: opts.region }),
      ...(opts.van === undefined ? {} : { EDGEFN_VAN_LISTEN: hostPort(opts.van.host, opts.van.port) }),
      ...(opts.trust === undefined ? {} : { EDGEFN_SITE_TRUST: opts.trust }),
      EDGEFN_LOG: "info",
      EDGEFN_STDIN_LIFELINE: "1",
      // The runtime's own entry is TypeScript too: with the cache it starts without the
      // type stripper (faster, and about 17 MB less per process).
      ...(getCompileCacheDir() === undefined ? {} : { NODE_COMPILE_CACHE: getCompileCacheDir()! }),
      ...opts.env,
    },
    // stdin stays open and unused: it closes only when this process dies, however it dies,
    // so the runtime can exit then instead of living on as an orphan.
    stdio: ["pipe", "pipe", "pipe"],
  });

  const recent: string[] = [];
  const remember = (line: string) => {
    recent.push(line);
    if (recent.length > TAIL_LINES) recent.shift();
  };
  const tail = () => recent.join("\n");

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: null, signal: null }));
  });

  let onReady: (r: ReadyLine) => void = () => {};
  const readyLine = new Promise<ReadyLine>((resolve) => (onReady = resolve));
  let isReady = false;
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (!isReady) {
      const parsed = ReadyLineSchema.safeParse(safeJSON(line));
      if (parsed.success) {
        isReady = true;
        onReady(parsed.data);
        return;
      }
    }
    remember(line);
    opts.onLine(line, "stdout");
  });
  createInterface({ input: child.stderr! }).on("line", (line) => {
    remember(line);
    opts.onLine(line, "stderr");
  });

  const stop = async (graceMs = 5_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };

  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    readyLine.then((ready) => ({ kind: "ready" as const, ready })),
    exited.then((e) => ({ kind: "exited" as const, ...e })),
    spawnError.then((error) => ({ kind: "error" as const, error })),
    new Promise<{ kind: "timeout" }>((resolve) => {
      timer = setTimeout(() => resolve({ kind: "timeout" }), timeoutMs);
    }),
    new Promise<{ kind: "aborted" }>((resolve) => {
      if (opts.signal?.aborted) resolve({ kind: "aborted" });
      opts.signal?.addEventListener("abort", () => resolve({ kind: "aborted" }), { once: true });
    }),
  ]);
  clearTimeout(timer);

  if (outcome.kind === "ready") return { ready: outcome.ready, token, exited, tail, stop };
  await stop(1_000);
  // Give readline the last lines the child wrote before it went away.
  await new Promise((r) => setImmediate(r));
  if (outcome.kind === "aborted") throw opts.signal!.reason;
  if (outcome.kind === "error") {
    throw new CliError("ERR_RUNTIME_START", `Could not start the runtime: ${outcome.error.message}.`, { cause: outcome.error });
  }
  const why =
    outcome.kind === "timeout"
      ? `The runtime did not report ready within ${timeoutMs / 1000} s.`
      : `The runtime exited (${outcome.signal ?? `code ${outcome.code}`}) before it was ready.`;
  throw new CliError("ERR_RUNTIME_START", why, {
    details: tail() === "" ? "(it printed nothing)" : `Its last output:\n${tail()}`,
    hint: startHint(tail(), opts),
  });
}

export function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function startHint(output: string, opts: RuntimeProcessOptions): string {
  if (/EADDRINUSE/.test(output)) {
    const address = /EADDRINUSE[^\n]*?(\[?[\w.:]+\]?:\d+)/.exec(output)?.[1] ?? hostPort(opts.host, opts.port);
    return `Something else listens on ${address}. Stop it, or pass another ${opts.addressFlags ?? "--port"}.`;
  }
  if (/EADDRNOTAVAIL|ENOTFOUND/.test(output)) return `Check --host ${opts.host}: it must be an address of this machine.`;
  return "The runtime's output above says why. Run with --verbose to see all of its log lines.";
}

function safeJSON(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
