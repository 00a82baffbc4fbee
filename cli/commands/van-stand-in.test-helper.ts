/**
 * For the VAN commands' tests (token, link, status): a stand-in site on a loopback socket that
 * records what it was sent and answers with schema-valid bodies, and a runner that captures
 * a command's stdout and stderr.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { onTestFinished, vi } from "vitest";
import { LinkTokenSchema, SiteStatusSchema, type LinkInfo, type LinkToken, type SiteStatus } from "../../runtime/network-api.ts";
import { runCommand, type CommandDef } from "../command.ts";
import { exitCodeFor } from "../errors.ts";
import { renderError } from "../output.ts";

export interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: unknown;
}

export type Reply = (req: Seen) => { status: number; body: unknown };

/** A site answering with `reply`; `seen` lists every request, bodies JSON-parsed. */
export async function startStandIn(reply: Reply): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString();
      const r: Seen = { method: req.method!, url: req.url!, authorization: req.headers.authorization, body: text === "" ? undefined : JSON.parse(text) };
      seen.push(r);
      const { status, body } = reply(r);
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.on("connection", (s) => onTestFinished(() => void s.destroy()));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Runs `cmd` with `argv` as main.ts would: exit code, stdout, stderr (errors rendered there). */
export async function run(cmd: CommandDef, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const capture = (append: (s: string) => void) => (chunk: unknown) => {
    append(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString());
    return true;
  };
  const o = vi.spyOn(process.stdout, "write").mockImplementation(capture((s) => (stdout += s)) as typeof process.stdout.write);
  const e = vi.spyOn(process.stderr, "write").mockImplementation(capture((s) => (stderr += s)) as typeof process.stderr.write);
  try {
    const result = await runCommand(cmd, argv);
    return { code: result.kind === "ran" ? result.code : 0, stdout, stderr };
  } catch (err) {
    stderr += renderError(err).join("\n");
    return { code: exitCodeFor(err), stdout, stderr };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

export const CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

export function linkToken(overrides: Partial<LinkToken> = {}): LinkToken {
  return LinkTokenSchema.parse({
    kind: "edgefn-link-token",
    version: 1,
    network: "van-7f3a",
    issuer: "edge-a",
    van: "10.0.0.1:5671",
    claimUrl: "http://10.0.0.1:9080/v1/claims",
    secret: "s".repeat(43),
    expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
    ca: CA_PEM,
    ...overrides,
  });
}

export const LINK_UP: LinkInfo = { peer: "edge-a", address: "10.0.0.1:5671", cost: 1, state: "up", trust: "trusted", error: null };
export const LINK_DOWN: LinkInfo = { peer: "edge-c", address: null, cost: 5, state: "down", trust: "untrusted", error: "TLS handshake refused" };

export function siteStatus(network: SiteStatus["network"]): SiteStatus {
  return SiteStatusSchema.parse({
    site: "edge-b",
    region: "eu-west",
    ingressUrl: "http://127.0.0.1:8081",
    network,
    functions: [
      { name: "hello", version: 3, priority: "normal", attached: true },
      { name: "api", version: 1, priority: "high", attached: false },
    ],
  });
}
