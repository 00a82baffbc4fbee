import { afterEach, expect, it } from "vitest";
import { Admission, type AdmissionSample } from "./admission.ts";
import { silentLogger } from "./log.ts";

let admission: Admission | undefined;
afterEach(() => admission?.close());

/** Isolate CPU as a test says: `busy` CPUs' worth of time per wall ns, while `busy` > 0. */
function fakeCpu() {
  let total = 0n;
  let last = process.hrtime.bigint();
  const state = { busy: 0 };
  return {
    state,
    read: () => {
      const now = process.hrtime.bigint();
      total += BigInt(Math.round(Number(now - last) * state.busy));
      last = now;
      return total;
    },
  };
}

const until = async (check: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

it("limits the lowest priorities first when isolates use the site's CPUs, never critical, and admits them again once idle", async () => {
  const cpu = fakeCpu();
  const changes: AdmissionSample[] = [];
  admission = new Admission({ cpus: 1, isolateCpuNs: cpu.read, logger: silentLogger(), onChange: (s) => changes.push(s) });
  expect(admission.admits("best-effort")).toBe(true);

  cpu.state.busy = 0.85; // over best-effort's and low's thresholds, under normal's and high's
  await until(() => !admission!.admits("low"), 2_000);
  expect(admission.admits("best-effort")).toBe(false);
  expect(admission.admits("normal")).toBe(true);
  expect(admission.admits("critical")).toBe(true);
  expect(admission.sample().shedding).toEqual(["best-effort", "low"]);
  expect(admission.refusal("bulk", "low")).toMatchObject({ code: "ERR_SHED", status: 503, headers: { "retry-after": "1" } });

  cpu.state.busy = 2; // everything but critical
  await until(() => !admission!.admits("high"), 2_000);
  for (let i = 0; i < 50; i++) admission.enter("critical");
  expect(admission.admits("critical")).toBe(true);

  cpu.state.busy = 0;
  await until(() => admission!.admits("best-effort"), 3_000);
  expect(changes.at(-1)?.shedding.includes("best-effort")).toBe(true); // still limited (to 1, 2, …), admitting again
  await until(() => admission!.sample().shedding.length === 0, 10_000);
});

it("admits a limited priority only up to its limit of requests in flight", async () => {
  const cpu = fakeCpu();
  admission = new Admission({ cpus: 1, isolateCpuNs: cpu.read, logger: silentLogger() });
  cpu.state.busy = 1;
  await until(() => !admission!.admits("best-effort"), 2_000);
  cpu.state.busy = 0;
  await until(() => admission!.admits("best-effort"), 3_000); // limit grew to 1
  admission.enter("best-effort");
  expect(admission.admits("best-effort")).toBe(false); // 1 in flight = the limit
  admission.leave("best-effort");
  expect(admission.admits("best-effort")).toBe(true);
});
