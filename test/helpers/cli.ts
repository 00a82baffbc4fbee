/**
 * Runs the real `edgefn` bin (`node cli/edgefn.mjs`) with the project's Node 24, as users do
 * through npx. `runCli` waits for exit; `startCli` is for long-running commands (`dev`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { onTestFinished } from "vitest";
import { REPO } from "./tmp.ts";

/** The project's Node (24): vitest itself may run under an older system node. */
export const NODE = path.join(REPO, "node_modules", ".bin", "node");
export const BIN = path.join(REPO, "cli", "edgefn.mjs");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
  /** startCli only: stop it when the test finishes (default). `false` for one started in beforeAll. */
  stopOnTestFinished?: boolean;
}

/** No colour, no inherited EDGEFN_* settings: output is the same on every machine. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("EDGEFN_") && !k.startsWith("npm_")) env[k] = v;
  delete env["FORCE_COLOR"];
  return { ...env, NO_COLOR: "1", ...extra };
}

export function runCli(args: string[], opts: CliOptions): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [BIN, ...args], { cwd: opts.cwd, env: cliEnv(opts.env), stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`edgefn ${args.join(" ")} did not exit within ${opts.timeoutMs ?? 30_000} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

export interface RunningCli {
  child: ChildProcess;
  /** Every stdout and stderr line so far, in arrival order. */
  lines: string[];
  /** Resolves with the first line (already seen or future) matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Sends `signal` and waits for exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the bin and stops it when the test finishes (unless `stopOnTestFinished: false`). */
export function startCli(args: string[], opts: CliOptions): RunningCli {
  const child = spawn(NODE, [BIN, ...args], { cwd: opts.cwd, env: cliEnv(opts.env), stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (l: string) => void }>();
  const onLine = (line: string) => {
    lines.push(line);
    for (const w of waiters) {
      if (w.re.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout }).on("line", onLine);
  createInterface({ input: child.stderr }).on("line", onLine);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  if (opts.stopOnTestFinished !== false) {
    onTestFinished(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // SIGINT first, so `edgefn dev` stops its runtime child; SIGKILL would orphan it.
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    });
  }
  return {
    child,
    lines,
    exited,
    waitForLine(re, timeoutMs = 30_000) {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { re, resolve: (l: string) => (clearTimeout(timer), resolve(l)) };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output so far:\n${lines.join("\n")}`));
        }, timeoutMs);
        waiters.add(w);
        void exited.then((code) => {
          if (!waiters.has(w)) return;
          waiters.delete(w);
          clearTimeout(timer);
          reject(new Error(`edgefn exited (${code}) before printing a line matching ${re}; output:\n${lines.join("\n")}`));
        });
      });
    },
    async stop(signal = "SIGINT") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Masks what changes between runs: digests, temp paths, timings, sizes' exact bytes stay. */
export function mask(text: string, dirs: Record<string, string> = {}): string {
  let out = text;
  for (const [name, dir] of Object.entries(dirs)) out = out.split(dir).join(`<${name}>`);
  return out
    .replace(/sha256:[0-9a-f]{64}/g, "sha256:<digest>")
    .replace(/\(\d+ ms\)/g, "(<n> ms)")
    .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>");
}
