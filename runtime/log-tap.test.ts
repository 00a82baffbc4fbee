import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { LogTap } from "./log-tap.ts";

const sink = () => new Writable({ write: (_chunk, _enc, done) => done() });
const line = (service: string, msg: string) => JSON.stringify({ ts: 1, level: "info", scope: "fn", service, msg });

describe("LogTap", () => {
  it("passes lines through, keeps the last ones, and serves them filtered", () => {
    const tap = new LogTap(sink());
    tap.push(line("hello", "one"));
    tap.push("not json");
    tap.push(line("api", "two"));
    tap.push(line("hello", "three"));
    expect(tap.tail((l) => l.service === "hello", 10).map((l) => l.msg)).toEqual(["one", "three"]);
    expect(tap.tail((l) => l.service === "hello", 1).map((l) => l.msg)).toEqual(["three"]);
  });

  it("tells followers about new lines until they stop following", async () => {
    const tap = new LogTap(sink());
    const seen: string[] = [];
    const stop = tap.follow((l) => l.service === "hello", (l) => seen.push(l.msg));
    const input = new PassThrough();
    tap.attach(input);
    input.write(`${line("hello", "a")}\n${line("api", "b")}\n`);
    await new Promise((r) => setImmediate(r));
    stop();
    tap.push(line("hello", "c"));
    expect(seen).toEqual(["a"]);
  });
});
