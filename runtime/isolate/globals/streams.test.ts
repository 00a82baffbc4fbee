/**
 * Pins the web-streams-polyfill internals streams.ts peeks at, so an upgrade that renames
 * them fails here rather than silently streaming bodies that could go whole.
 */
import { ReadableStream } from "web-streams-polyfill";
import { describe, expect, it } from "vitest";
import { hasQueuedChunk, isDisturbed, isFullyBuffered } from "./streams.ts";

describe("web-streams-polyfill internals", () => {
  it("exposes disturbed, closeRequested and the queue size", async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c as never) });
    expect([isDisturbed(stream), isFullyBuffered(stream), hasQueuedChunk(stream)]).toEqual([false, false, false]);
    controller.enqueue(new Uint8Array([1]));
    expect(hasQueuedChunk(stream)).toBe(true);
    expect(isFullyBuffered(stream)).toBe(false);
    controller.close();
    expect(isFullyBuffered(stream)).toBe(true);
    const reader = stream.getReader();
    await reader.read();
    expect(isDisturbed(stream)).toBe(true);
    expect((await reader.read()).done).toBe(true);
    expect(isFullyBuffered(stream)).toBe(true);
  });

  it("reports byte streams the same way", () => {
    const stream = new ReadableStream({
      type: "bytes",
      start(c) {
        c.enqueue(new Uint8Array([1, 2]));
        c.close();
      },
    });
    expect([hasQueuedChunk(stream), isFullyBuffered(stream)]).toEqual([true, true]);
  });
});
