import type { EdgeFunction } from "edgefn";

const MAX_EVENTS = 50;
const MAX_INTERVAL_MS = 2_000;

/** Clamp a query parameter to [min, max], with a default for missing or junk values. */
function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const value = Number(url.searchParams.get(name) ?? fallback);
  return Number.isInteger(value) ? Math.min(Math.max(value, min), max) : fallback;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Server-sent events: GET /stream/?count=5&interval=200 sends `count` events, one every
 * `interval` ms, each flushed to the client as it is produced.
 */
export default {
  fetch(request, _env, ctx) {
    const url = new URL(request.url);
    const count = intParam(url, "count", 5, 1, MAX_EVENTS);
    const interval = intParam(url, "interval", 200, 0, MAX_INTERVAL_MS);
    const encoder = new TextEncoder();
    let sent = 0;

    // A pull source: the next event is produced only when the client is ready for it.
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent > 0) await sleep(interval);
        const event = { n: sent + 1, of: count, site: ctx.site, at: new Date().toISOString() };
        controller.enqueue(encoder.encode(`id: ${sent + 1}\nevent: tick\ndata: ${JSON.stringify(event)}\n\n`));
        sent += 1;
        if (sent === count) controller.close();
      },
      cancel() {
        console.log(`stream: client left after ${sent} of ${count} events`);
      },
    });

    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
      },
    });
  },
} satisfies EdgeFunction<Record<string, never>>;
