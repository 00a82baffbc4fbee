/**
 * Starts a real `runtime/main.ts` on 127.0.0.1 (ingress and control API on port 0), waits
 * for its ready line, and deploys functions to it over the control API. Used by the
 * integration tests and by the bench; it imports no test framework.
 *
 * @example
 * ```ts
 * const rt = await startRuntime({ site: "test" });
 * onTestFinished(() => rt.stop());
 * await rt.deploy("functions/hello");
 * const res = await fetch(`${rt.url}/hello/`);
 * ```
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Deployment, EdgeFunction } from "../../runtime/manifest.ts";
import { buildFunctionDir } from "./bundle.ts";
import { readReadyLine, RuntimeReadyLineSchema } from "./ready.ts";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Node 24 from the project (system node may be older); isolated-vm needs --no-node-snapshot. */
export const NODE = `${REPO_ROOT}node_modules/.bin/node`;
export const RUNTIME_MAIN = `${REPO_ROOT}runtime/main.ts`;
/** What `edgefn site up` runs: the runtime and the GitOps agent. */
export const SITE_MAIN = `${REPO_ROOT}cli/site-main.ts`;

export interface StartRuntimeOptions {
  /** EDGEFN_SITE_NAME; default "test". */
  site?: string;
  /** EDGEFN_LOG; default "info" (so function console lines reach `logs`). */
  log?: string;
  /** More environment for the runtime process. */
  env?: Record<string, string>;
  /** The process entry; default runtime/main.ts (SITE_MAIN adds the GitOps agent). */
  entry?: string;
  readyTimeoutMs?: number;
}

export type { Deployment };

export interface RuntimeHandle {
  /** Ingress, e.g. http://127.0.0.1:41234; functions answer at `${url}/<name>/...`. */
  url: string;
  /** Control API, e.g. http://127.0.0.1:41235. */
  controlUrl: string;
  token: string;
  pid: number;
  /** Every stdout/stderr line so far (the runtime's JSON log lines, the ready line first). */
  logs: string[];
  /**
   * Deploys a function folder (its edgefn.yaml and source, built with esbuild) or a built
   * deployment. `edit` may change the manifest first (name, env, egress...). Rejects unless
   * the control API answers 2xx; resolves with the deployed manifest.
   */
  deploy(source: string | Deployment, edit?: (manifest: EdgeFunction) => EdgeFunction): Promise<EdgeFunction>;
  /** SIGTERM, then SIGKILL to the process group after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<number>();
// Never leave a runtime behind if the test process or the bench dies on an error.
process.once("exit", () => {
  for (const pid of running) killGroup(pid, "SIGKILL");
});

export async function startRuntime(opts: StartRuntimeOptions = {}): Promise<RuntimeHandle> {
  const token = randomBytes(24).toString("hex");
  const entry = opts.entry ?? RUNTIME_MAIN;
  const child = spawn(NODE, ["--no-node-snapshot", entry], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      EDGEFN_HTTP: "127.0.0.1:0",
      EDGEFN_CONTROL: "127.0.0.1:0",
      EDGEFN_CONTROL_TOKEN: token,
      EDGEFN_SITE_NAME: opts.site ?? "test",
      EDGEFN_LOG: opts.log ?? "info",
      // As `edgefn dev` does: the runtime starts from Node's compile cache, not the type stripper.
      NODE_COMPILE_CACHE: join(tmpdir(), "node-compile-cache"),
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Own process group: stop() can end the runtime and any isolate host it spawned.
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${NODE} ${entry}`);
  running.add(pid);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => running.delete(pid));

  const logs: string[] = [];
  const stop = async (graceMs = 5_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) {
      killGroup(pid, "SIGKILL"); // it died on its own: end what it may have left
      return;
    }
    child.kill("SIGTERM");
    const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
    killGroup(pid, "SIGKILL"); // children it may have left
  };

  let ready;
  try {
    ready = await readReadyLine(child, { schema: RuntimeReadyLineSchema, lines: logs, name: "runtime", timeoutMs: opts.readyTimeoutMs });
  } catch (err) {
    await stop(1_000);
    throw err;
  }
  const { url, controlUrl } = { url: trimSlash(ready.url), controlUrl: trimSlash(ready.controlUrl) };

  const deploy: RuntimeHandle["deploy"] = async (source, edit = (m) => m) => {
    const built = typeof source === "string" ? await buildFunctionDir(source) : source;
    const manifest = edit(structuredClone(built.manifest));
    const name = manifest.metadata.name;
    const res = await fetch(`${controlUrl}/v1/functions/${name}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ manifest, bundle: built.bundle }),
    });
    const body = await res.text();
    if (!res.ok) throw new Error(`deploy ${name}: control API answered ${res.status}: ${body}`);
    return manifest;
  };

  return { url, controlUrl, token, pid, logs, deploy, stop };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function trimSlash(url: string): string {
  return url.endsWith("/") ? url.slice(0, -1) : url;
}
