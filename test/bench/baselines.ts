/**
 * The baselines edgefn is measured against, each in its own child process so the load
 * generator's event loop never slows them: raw `node:http`, and Hono on @hono/node-server.
 * Both answer what functions/hello answers (a small JSON object), so bytes on the wire match.
 *
 * As a child: `node test/bench/baselines.ts raw|hono` listens on 127.0.0.1:0 and prints
 * `{"event":"ready","port":…}`.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { readReadyLine, ReadyLineSchema } from "../helpers/ready.ts";
import { NODE } from "../helpers/runtime.ts";

export const BASELINES = ["raw", "hono"] as const;
export type BaselineKind = (typeof BASELINES)[number];

export interface Server {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts one baseline server as a child process and waits for its ready line. */
export async function startBaseline(kind: BaselineKind): Promise<Server> {
  const child = spawn(NODE, [import.meta.filename, kind], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines: string[] = [];
  const ready = await readReadyLine(child, { schema: ReadyLineSchema, lines, name: `baseline ${kind}` });
  return {
    url: `http://127.0.0.1:${ready.port}`,
    pid: child.pid!,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

const greeting = (path: string) => ({ message: "Hello from bench!", path, site: "bench", requestId: randomUUID() });

function serveRaw(): void {
  const server = createServer((req, res) => {
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    const body = JSON.stringify(greeting(path));
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  server.listen(0, "127.0.0.1", () => announce((server.address() as AddressInfo).port));
}

function serveHono(): void {
  const app = new Hono();
  app.get("*", (c) => c.json(greeting(c.req.path)));
  serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => announce(info.port));
}

function announce(port: number): void {
  process.stdout.write(`${JSON.stringify({ event: "ready", port })}\n`);
}

if (import.meta.main) {
  const kind = process.argv[2];
  if (kind === "raw") serveRaw();
  else if (kind === "hono") serveHono();
  else {
    process.stderr.write(`usage: node test/bench/baselines.ts raw|hono (got ${kind})\n`);
    process.exit(2);
  }
  process.once("SIGTERM", () => process.exit(0));
}
