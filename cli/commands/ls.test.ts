import { describe, expect, it } from "vitest";
import type { FunctionInfo } from "../../runtime/manifest.ts";
import { formatAge, formatFunctionTable } from "./ls.ts";

const NOW = new Date("2026-03-01T12:00:00.000Z");

function info(name: string, version: number, hex: string, priority: FunctionInfo["priority"], deployedAt: string): FunctionInfo {
  const digest = `sha256:${hex.repeat(64 / hex.length)}`;
  return {
    name,
    version,
    digest,
    priority,
    status: "live",
    deployedAt,
    url: `http://127.0.0.1:8081/${name}/`,
    versions: [{ version, digest, deployedAt }],
    secrets: [],
  };
}

describe("formatFunctionTable", () => {
  it("prints aligned columns: name, version, short digest, priority, status, age", () => {
    const table = formatFunctionTable(
      [
        info("api", 12, "0123456789abcdef", "high", "2026-03-01T11:59:15.000Z"),
        info("hello", 3, "fedcba98", "normal", "2026-02-27T08:00:00.000Z"),
        info("inventory-sync", 1, "ab", "best-effort", "2026-03-01T09:30:00.000Z"),
      ],
      NOW,
    );
    expect(table.join("\n")).toMatchInlineSnapshot(`
      "NAME            VERSION  DIGEST               PRIORITY     STATUS  AGE
      api             v12      sha256:0123456789ab  high         live    45s
      hello           v3       sha256:fedcba98fedc  normal       live    2d
      inventory-sync  v1       sha256:abababababab  best-effort  live    2h"
    `);
  });
});

describe("formatAge", () => {
  it.each([
    ["2026-03-01T12:00:00.000Z", "0s"],
    ["2026-03-01T12:00:05.000Z", "0s"], // clock skew: never negative
    ["2026-03-01T11:59:01.000Z", "59s"],
    ["2026-03-01T11:59:00.000Z", "1m"],
    ["2026-03-01T11:00:01.000Z", "59m"],
    ["2026-03-01T11:00:00.000Z", "1h"],
    ["2026-02-27T12:00:01.000Z", "47h"],
    ["2026-02-27T12:00:00.000Z", "2d"],
    ["not a date", "?"],
  ])("%s -> %s", (iso, age) => {
    expect(formatAge(iso, NOW)).toBe(age);
  });
});
