/**
 * `npm run demo` as a user runs it (cli/demo.ts, a real process): three sites come up, link,
 * deploy the examples, edge-2 pulls greet from a git repository, the tour's calls succeed, and
 * Ctrl+C (SIGINT) stops everything.
 * Ports are offset at random so the test does not collide with a demo someone is running.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { NODE, REPO_ROOT } from "./helpers/runtime.ts";

it("brings up three linked sites, runs the tour, and stops on Ctrl+C", async () => {
  const dir = mkdtempSync(join(tmpdir(), "edgefn-demo-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const offset = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(NODE, ["--no-node-snapshot", "cli/demo.ts", "--port-offset", String(offset), "--dir", dir], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  onTestFinished(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));

  const until = Date.now() + 60_000;
  while (!output.includes("The network is up")) {
    if (Date.now() > until || child.exitCode !== null) throw new Error(`the demo did not come up:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The tour's own calls, as printed.
  expect(output).toContain("x-edgefn-site: edge-1");
  expect(output).toMatch(/api\/items\/1\n\s+HTTP 200 {2}x-edgefn-site: cloud/);
  expect(output).toMatch(/edge-1 +cost 1 +via edge-1 +serves hello/);
  // greet, pulled from the demo's git repository by edge-2, called at edge-1.
  expect(output).toMatch(/greet\/\n\s+HTTP 200 {2}x-edgefn-site: edge-2\n\s+\{"message":"Hello from git from edge-2!"/);
  // And one of our own: hello, only at edge-1, from edge-2's ingress.
  const res = await fetch(`http://127.0.0.1:${8083 + offset}/hello/`);
  expect(res.status).toBe(200);
  expect(res.headers.get("x-edgefn-site")).toBe("edge-1");

  child.kill("SIGINT");
  expect(await exited).toBe(0);
  await expect(fetch(`http://127.0.0.1:${8083 + offset}/hello/`)).rejects.toThrow();
}, 90_000);
