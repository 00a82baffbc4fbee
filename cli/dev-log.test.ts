import { describe, expect, it } from "vitest";
import { formatLogLine } from "./dev-log.ts";

const plain = (_f: unknown, t: string) => t;
const fmt = (line: unknown, verbose = false) =>
  formatLogLine(typeof line === "string" ? line : JSON.stringify(line), { verbose, style: plain });
const RID = "3f2a1b2c-0d4e-4f00-9a6b-1234567890ab";

describe("formatLogLine", () => {
  it.each([
    [{ level: "info", scope: "fn", service: "hello", requestId: RID, msg: "hello: GET /x" }, "[hello] 3f2a1b2c hello: GET /x"],
    [{ level: "error", scope: "fn", service: "api", requestId: "r1", msg: "boom" }, "[api] r1 boom"],
    [
      { level: "info", scope: "runtime:http", method: "GET", path: "/hello/some/path", status: 200, ms: 3.4, service: "hello", requestId: RID },
      "[hello] 3f2a1b2c GET /hello/some/path 200 3 ms",
    ],
    [{ level: "info", scope: "runtime:http", method: "GET", path: "/nope/", status: 404, ms: 1 }, "[-] GET /nope/ 404 1 ms"],
    [{ level: "warn", scope: "runtime:isolate", service: "hello", msg: "recycled", reason: "memory" }, "warn runtime:isolate [hello] recycled reason=memory"],
    [{ level: 50, scope: "runtime", msg: "listen failed", err: { code: "EADDRINUSE" } }, 'error runtime listen failed err={"code":"EADDRINUSE"}'],
    ["not json at all", "not json at all"],
  ])("%j -> %s", (line, expected) => expect(fmt(line)).toBe(expected));

  it("hides info and debug lines unless verbose", () => {
    const line = { level: "info", scope: "runtime:store", msg: "deployed", service: "hello" };
    expect(fmt(line)).toBeUndefined();
    expect(fmt(line, true)).toBe("info runtime:store [hello] deployed");
  });
});
