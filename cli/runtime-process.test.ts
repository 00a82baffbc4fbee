/** startRuntimeProcess against a stand-in entry that reports its environment in its ready line. */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { useTmpDir } from "../test/helpers/tmp.ts";
import { ReadyLineSchema, startRuntimeProcess } from "./runtime-process.ts";

const ENTRY = `
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("EDGEFN_")));
const vanPort = env.EDGEFN_VAN_LISTEN ? 5671 : undefined;
console.log(JSON.stringify({ event: "ready", port: 1, url: "http://x:1", controlPort: 2, controlUrl: "http://x:2", vanPort, env }));
setInterval(() => {}, 1000);
`;

async function start(opts: { van?: { host: string; port: number }; trust?: "trusted" | "untrusted" }) {
  const entry = path.join(useTmpDir(), "entry.mjs");
  writeFileSync(entry, ENTRY);
  const rt = await startRuntimeProcess({ host: "127.0.0.1", port: 0, site: "edge-a", entry, onLine: () => {}, ...opts });
  onTestFinished(() => rt.stop(1_000));
  return rt.ready as typeof rt.ready & { env: Record<string, string> };
}

describe("startRuntimeProcess: the VAN", () => {
  it("passes --van as EDGEFN_VAN_LISTEN and the trust as EDGEFN_SITE_TRUST; reads vanPort", async () => {
    const ready = await start({ van: { host: "::1", port: 0 }, trust: "untrusted" });
    expect(ready.env).toMatchObject({ EDGEFN_VAN_LISTEN: "[::1]:0", EDGEFN_SITE_TRUST: "untrusted", EDGEFN_SITE_NAME: "edge-a" });
    expect(ready.vanPort).toBe(5671);
  });

  it("without them, sets neither; the ready line needs no vanPort", async () => {
    const ready = await start({});
    expect(ready.env).not.toHaveProperty("EDGEFN_VAN_LISTEN");
    expect(ready.env).not.toHaveProperty("EDGEFN_SITE_TRUST");
    expect(ready.vanPort).toBeUndefined();
  });

  it("ReadyLineSchema: vanPort is optional, but a number when present", () => {
    const base = { event: "ready", port: 1, url: "u", controlPort: 2, controlUrl: "c" };
    expect(ReadyLineSchema.safeParse(base).success).toBe(true);
    expect(ReadyLineSchema.safeParse({ ...base, vanPort: 5671 }).success).toBe(true);
    expect(ReadyLineSchema.safeParse({ ...base, vanPort: "5671" }).success).toBe(false);
  });
});
