import { afterEach, beforeEach, expect, it } from "vitest";
import { createTestIsolate, type TestIsolate } from "./_test-platform.ts";

let t: TestIsolate;
beforeEach(async () => {
  t = await createTestIsolate();
});
afterEach(() => t.dispose());

it("runs timeouts by delay, then in the order set, with their arguments", async () => {
  const out = await t.run(`
    const out = [];
    await new Promise((done) => {
      setTimeout((a, b) => out.push("30:" + a + b), 30, "x", "y");
      setTimeout(() => out.push("10a"), 10);
      setTimeout(() => out.push("10b"), 10);
      setTimeout(() => out.push("0"));
      setTimeout(() => out.push("neg"), -1);
      queueMicrotask(() => out.push("micro"));
      setTimeout(done, 50);
    });
    return out;`);
  expect(out).toEqual(["micro", "0", "neg", "10a", "10b", "30:xy"]);
});

it("clearTimeout and clearInterval stop timers; intervals repeat until cleared", async () => {
  const out = await t.run(`
    const out = [];
    const gone = setTimeout(() => out.push("cleared"), 5);
    clearTimeout(gone);
    clearTimeout(undefined); clearTimeout(123456); clearInterval("nope");
    await new Promise((done) => {
      let n = 0;
      const id = setInterval(() => {
        out.push("tick" + ++n);
        if (n === 3) { clearInterval(id); setTimeout(done, 30); }
      }, 2);
    });
    return out;`);
  expect(out).toEqual(["tick1", "tick2", "tick3"]);
  expect(await t.call("pendingTimers")).toBe(0);
});

it("returns numeric ids and rejects a callback that is not a function", async () => {
  const out = await t.run(`
    const a = setTimeout(() => {}, 1000), b = setInterval(() => {}, 1000);
    clearTimeout(a); clearInterval(b);
    const errors = [];
    for (const bad of ["code string", null, undefined]) { try { setTimeout(bad) } catch (e) { errors.push(e.name) } }
    try { queueMicrotask(1) } catch (e) { errors.push(e.name) }
    return [typeof a, b > a, errors];`);
  expect(out).toEqual(["number", true, ["TypeError", "TypeError", "TypeError", "TypeError"]]);
});

it("runs a timer's callback for the request that set it", async () => {
  await t.call("setCurrentRequestId", "req-1");
  await t.run(`setTimeout(() => console.log("from timer"), 10); setTimeout(() => { throw new Error("late") }, 12); queueMicrotask(() => console.log("from microtask"));`);
  await t.call("setCurrentRequestId", "req-2");
  await t.run(`console.log("now");`);
  await new Promise((resolve) => setTimeout(resolve, 40));
  expect(t.logs.map((l) => `${l.requestId}:${l.message.split("\n")[0]}`)).toEqual([
    "req-1:from microtask",
    "req-2:now",
    "req-1:from timer",
    "req-1:Uncaught Error: late",
  ]);
});

it("reports a throwing callback and keeps running the others", async () => {
  const out = await t.run(`
    const out = [];
    await new Promise((done) => {
      setTimeout(() => { throw new Error("timer failed") }, 1);
      setTimeout(() => { out.push("after"); done(); }, 5);
    });
    return out;`);
  expect(out).toEqual(["after"]);
  expect(t.logs.map((l) => l.message.split("\n")[0])).toEqual(["Uncaught Error: timer failed"]);
  expect(t.logs[0]!.level).toBe("error");
  expect(t.timerErrors).toEqual([]);
});

it("refuses more than 10,000 pending timers with an error that says so", async () => {
  const out = await t.run(`
    const ids = [];
    for (let i = 0; i < 10000; i++) ids.push(setTimeout(() => {}, 60000));
    let error;
    try { setTimeout(() => {}, 1) } catch (e) { error = e.name + ": " + e.message }
    for (const id of ids) clearTimeout(id);
    setTimeout(() => {}, 1);
    return error;`);
  expect(out).toBe("RangeError: edgefn: too many timers: 10000 are already pending in this function; clear some before setting more");
});
