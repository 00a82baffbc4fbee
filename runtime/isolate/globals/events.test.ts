import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { createTestIsolate, type TestIsolate } from "./_test-platform.ts";

let t: TestIsolate;
beforeAll(async () => {
  t = await createTestIsolate();
});
afterAll(() => t.dispose());
beforeEach(() => {
  t.logs.length = 0;
});

/** Each scenario returns a log of what happened; Node's EventTarget/AbortSignal must agree. */
const SCENARIOS: [string, string][] = [
  ["listeners run in order; once, duplicates and handleEvent", `
    const out = []; const et = new EventTarget();
    const f = (e) => out.push("f:" + e.type);
    et.addEventListener("x", f); et.addEventListener("x", f); et.addEventListener("x", f, true);
    et.addEventListener("x", { handleEvent(e) { out.push("obj:" + (this !== et)) } });
    et.addEventListener("x", () => out.push("once"), { once: true });
    et.addEventListener("x", null);
    out.push(et.dispatchEvent(new Event("x")), et.dispatchEvent(new Event("x")));
    et.removeEventListener("x", f); et.removeEventListener("x", f, { capture: true });
    et.dispatchEvent(new Event("x"));
    return out;`],
  ["event state during and after dispatch", `
    const out = []; const et = new EventTarget(); const e = new Event("y", { cancelable: true, bubbles: true });
    out.push(e.eventPhase, e.target, e.currentTarget, e.defaultPrevented, e.bubbles, e.cancelable, e.composed, e.isTrusted);
    et.addEventListener("y", function (ev) { out.push(this === et, ev.target === et, ev.currentTarget === et, ev.eventPhase, ev.composedPath().length); ev.preventDefault(); });
    out.push(et.dispatchEvent(e), e.defaultPrevented, e.eventPhase, e.currentTarget, e.target === et, e.returnValue);
    return out;`],
  ["stopImmediatePropagation and passive listeners", `
    const out = []; const et = new EventTarget();
    et.addEventListener("z", (e) => { e.preventDefault(); out.push("passive", e.defaultPrevented) }, { passive: true });
    et.addEventListener("z", (e) => { e.stopImmediatePropagation(); out.push("stopper") });
    et.addEventListener("z", () => out.push("never"));
    out.push(et.dispatchEvent(new Event("z", { cancelable: true })));
    return out;`],
  ["removing a later listener during dispatch skips it", `
    const out = []; const et = new EventTarget();
    const b = () => out.push("b");
    et.addEventListener("e", () => { out.push("a"); et.removeEventListener("e", b); });
    et.addEventListener("e", b);
    et.dispatchEvent(new Event("e")); et.dispatchEvent(new Event("e"));
    return out;`],
  ["CustomEvent carries detail; Event needs a type", `
    const out = [new CustomEvent("c", { detail: { n: 1 } }).detail, new CustomEvent("c").detail];
    try { new Event() } catch (e) { out.push(e.name) }
    try { new EventTarget().dispatchEvent({ type: "x" }) } catch (e) { out.push(e.name) }
    return out;`],
  ["the signal option removes a listener on abort", `
    const out = []; const et = new EventTarget(); const ac = new AbortController();
    et.addEventListener("x", () => out.push("heard"), { signal: ac.signal });
    et.dispatchEvent(new Event("x")); ac.abort(); et.dispatchEvent(new Event("x"));
    et.addEventListener("x", () => out.push("never"), { signal: ac.signal });
    et.dispatchEvent(new Event("x"));
    return out;`],
  ["AbortController.abort: reason, events, only once", `
    const out = []; const ac = new AbortController(); const s = ac.signal;
    out.push(s.aborted, s.reason, s.onabort, s instanceof EventTarget);
    s.onabort = (e) => out.push("onabort", e.type, e instanceof Event);
    s.addEventListener("abort", () => out.push("listener", s.aborted));
    ac.abort(); ac.abort("again");
    out.push(s.aborted, s.reason instanceof DOMException, s.reason.name, s.reason.message, s.reason.code);
    try { s.throwIfAborted() } catch (e) { out.push("threw", e === s.reason) }
    const ac2 = new AbortController(); const reason = { why: 1 }; ac2.abort(reason);
    out.push(ac2.signal.reason === reason);
    try { ac2.signal.throwIfAborted() } catch (e) { out.push(e === reason) }
    new AbortController().signal.throwIfAborted(); out.push("no throw");
    return out;`],
  ["AbortSignal.abort and the constructor", `
    const out = []; const s = AbortSignal.abort(); const r = AbortSignal.abort("why");
    out.push(s.aborted, s.reason.name, r.reason);
    try { new AbortSignal() } catch (e) { out.push(e.name) }
    return out;`],
  ["AbortSignal.any follows its sources", `
    const out = []; const a = new AbortController(); const b = new AbortController();
    const any = AbortSignal.any([a.signal, b.signal]); const nested = AbortSignal.any([any]);
    any.addEventListener("abort", () => out.push("any", any.reason));
    nested.addEventListener("abort", () => out.push("nested", nested.reason));
    a.signal.addEventListener("abort", () => out.push("a"));
    out.push(any.aborted);
    b.abort("b-reason"); a.abort("a-reason");
    out.push(any.aborted, any.reason, nested.reason);
    out.push(AbortSignal.any([AbortSignal.abort("pre"), a.signal]).reason, AbortSignal.any([]).aborted);
    try { AbortSignal.any([{}]) } catch (e) { out.push(e.name) }
    return out;`],
  ["AbortSignal.timeout aborts with a TimeoutError", `
    const out = []; const s = AbortSignal.timeout(5);
    out.push(s.aborted);
    await new Promise((resolve) => s.addEventListener("abort", resolve));
    out.push(s.aborted, s.reason.name, s.reason.message, s.reason.code);
    for (const bad of [-1, NaN, "x"]) { try { AbortSignal.timeout(bad) } catch (e) { out.push(e.name) } }
    return out;`],
  ["toStringTags and names", `
    const ac = new AbortController();
    return [Object.prototype.toString.call(ac), Object.prototype.toString.call(ac.signal), Object.prototype.toString.call(new Event("x")), Object.prototype.toString.call(new EventTarget()), AbortSignal.name, EventTarget.name, Event.AT_TARGET];`],
];

it.each(SCENARIOS)("%s, as in Node", async (_name, body) => {
  const expected = await (new Function(`return (async () => {${body}})()`)() as Promise<unknown>);
  expect(await t.run(body)).toEqual(expected);
});

it("does not run listeners added during a dispatch (DOM Standard; Node's EventTarget does)", async () => {
  const out = await t.run(`
    const out = []; const et = new EventTarget();
    et.addEventListener("e", () => { out.push("a"); et.addEventListener("e", () => out.push("late")); });
    et.dispatchEvent(new Event("e")); et.dispatchEvent(new Event("e"));
    return out;`);
  expect(out).toEqual(["a", "a", "late"]);
});

it("reports a throwing listener and still runs the next one", async () => {
  const out = await t.run(`
    const out = []; const et = new EventTarget();
    et.addEventListener("x", () => { throw new TypeError("listener failed") });
    et.addEventListener("x", () => out.push("second"));
    out.push(et.dispatchEvent(new Event("x")));
    return out;`);
  expect(out).toEqual(["second", true]);
  expect(t.logs).toHaveLength(1);
  expect(t.logs[0]!.level).toBe("error");
  expect(t.logs[0]!.message).toMatch(/^Uncaught TypeError: listener failed\n {4}at /);
});
