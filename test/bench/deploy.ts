/**
 * Deploy-to-live: from starting `edgefn deploy` (a real cli process: build, upload, verify,
 * switch) to the first call that answers with the new version, for functions/hello on a
 * site with a state dir (so every deploy is written to disk and fsynced).
 */
import { spawn } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NODE, REPO_ROOT, startRuntime } from "../helpers/runtime.ts";
import { percentile } from "./load.ts";

export interface DeployToLive {
  deploys: number;
  p50Ms: number;
  p99Ms: number;
  /** The cli's own share: its start, build and upload, until it exits. */
  cliP50Ms: number;
  failures: number;
  firstFailure: string | null;
}

export async function measureDeployToLive(count: number): Promise<DeployToLive> {
  const dir = await mkdtemp(join(tmpdir(), "edgefn-bench-deploy-"));
  const fn = join(dir, "hello");
  await cp(join(REPO_ROOT, "functions", "hello"), fn, { recursive: true });
  const manifest = await readFile(join(fn, "edgefn.yaml"), "utf8");
  const rt = await startRuntime({ site: "bench", log: "warn", env: { EDGEFN_STATE_DIR: join(dir, "site") } });
  const totals: number[] = [];
  const cli: number[] = [];
  const failures: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const greeting = `Deploy${i}`;
      await writeFile(join(fn, "edgefn.yaml"), manifest.replace(/GREETING: .*/, `GREETING: ${greeting}`));
      const started = performance.now();
      const exit = runCli(["deploy", fn, "--site", rt.controlUrl, "--token", rt.token]).then((code) => {
        cli.push(performance.now() - started);
        return code;
      });
      let liveAfter: number | undefined;
      while (liveAfter === undefined && performance.now() - started < 30_000) {
        const body = await fetch(`${rt.url}/hello/`).then((r) => r.text(), () => "");
        if (body.includes(`${greeting} from`)) liveAfter = performance.now() - started;
        else await new Promise((r) => setTimeout(r, 2));
      }
      const code = await exit;
      if (liveAfter === undefined || code !== 0) failures.push(`deploy ${i}: ${liveAfter === undefined ? "never went live; " : ""}cli exit ${code}`);
      else totals.push(liveAfter);
    }
  } finally {
    await rt.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return {
    deploys: count,
    p50Ms: percentile(totals, 0.5),
    p99Ms: percentile(totals, 0.99),
    cliP50Ms: percentile(cli, 0.5),
    failures: failures.length,
    firstFailure: failures[0] ?? null,
  };
}

function runCli(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [join(REPO_ROOT, "cli", "edgefn.mjs"), ...args], { stdio: "ignore", cwd: REPO_ROOT });
    child.once("exit", (code) => resolve(code ?? 1));
  });
}
