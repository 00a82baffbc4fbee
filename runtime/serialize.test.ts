import { describe, expect, it } from "vitest";
import { createSerializer } from "./serialize.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("createSerializer", () => {
  it("runs tasks of one key one at a time, in call order, past failures", async () => {
    const serialize = createSerializer();
    const events: string[] = [];
    const task = (name: string, ms: number, fail = false) => async () => {
      events.push(`start ${name}`);
      await sleep(ms);
      events.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([serialize("a", task("1", 20, true)), serialize("a", task("2", 1)), serialize("b", task("3", 1))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
    expect(events.indexOf("end 1")).toBeLessThan(events.indexOf("start 2"));
    // Another key does not wait.
    expect(events.indexOf("start 3")).toBeLessThan(events.indexOf("end 1"));
  });
});
