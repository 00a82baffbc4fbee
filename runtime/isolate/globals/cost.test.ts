/**
 * The globals script runs in every context: its size, evaluation time and heap are a budget
 * (< 1.5 ms and < 1 MB per context). Times on shared machines are noisy, so the time check
 * is loose; the figures are printed for the record.
 */
import ivm from "isolated-vm";
import { expect, it } from "vitest";
import { globalsScript } from "../globals-script.ts";
import { HOST_GLOBALS } from "../wire.ts";

it("costs less than 1 MB of heap and a few milliseconds per context", async () => {
  const code = await globalsScript();
  const isolate = new ivm.Isolate({ memoryLimit: 256 });
  try {
    const compiled = (await isolate.compileScript(code, { produceCachedData: true })) as ivm.Script & ivm.CachedDataResult;
    const cachedData = compiled.cachedData!;
    const install = async (): Promise<{ context: ivm.Context; ms: number }> => {
      const context = await isolate.createContext();
      for (const name of Object.values(HOST_GLOBALS)) context.global.setSync(name, new ivm.Callback(() => {}, { ignored: true }));
      const script = await isolate.compileScript(code, { cachedData });
      const start = process.hrtime.bigint();
      script.runSync(context, { reference: true });
      return { context, ms: Number(process.hrtime.bigint() - start) / 1e6 };
    };
    for (let i = 0; i < 5; i++) (await install()).context.release(); // warm-up

    const N = 20;
    const keep: ivm.Context[] = [];
    const heap = () => isolate.getHeapStatisticsSync().used_heap_size;
    const h0 = heap();
    for (let i = 0; i < N; i++) keep.push(await isolate.createContext());
    const emptyContext = (heap() - h0) / N;
    const h1 = heap();
    const times: number[] = [];
    for (let i = 0; i < N; i++) {
      const { context, ms } = await install();
      keep.push(context);
      times.push(ms);
    }
    const withGlobals = (heap() - h1) / N;
    // First use of URL and streams loads whatwg-url and web-streams-polyfill (lazy.ts).
    const h2 = heap();
    for (const context of keep.slice(N)) context.evalSync("new URL('http://a/'); new ReadableStream(); 0");
    const afterFirstUse = (heap() - h2) / N;
    times.sort((a, b) => a - b);
    const median = times[N >> 1]!;

    console.info(
      `globals script: ${(code.length / 1024).toFixed(0)} KB; eval median ${median.toFixed(2)} ms (min ${times[0]!.toFixed(2)}); ` +
        `heap per context: ${(emptyContext / 1024).toFixed(0)} KB bare, +${((withGlobals - emptyContext) / 1024).toFixed(0)} KB globals, ` +
        `+${(afterFirstUse / 1024).toFixed(0)} KB once URL and streams are used`,
    );
    expect(withGlobals - emptyContext).toBeLessThan(1024 * 1024);
    expect(median).toBeLessThan(5);
  } finally {
    isolate.dispose();
  }
});
