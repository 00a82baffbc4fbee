import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestIsolate, type TestIsolate } from "./_test-isolate.ts";

describe("lazy globals", () => {
  let t: TestIsolate;
  beforeAll(async () => {
    t = await createTestIsolate();
  });
  afterAll(() => t.dispose());

  it("loads URL and streams on first use, then become plain data properties", async () => {
    expect(
      await t.run(`
        const lazy = (n) => typeof Object.getOwnPropertyDescriptor(globalThis, n).get === "function";
        const before = [lazy("URL"), lazy("URLSearchParams"), lazy("ReadableStream"), lazy("TransformStream")];
        // A Response with a string body is made and read without loading either.
        await new Response("x").text();
        const untouched = [lazy("URL"), lazy("ReadableStream")];
        const href = new URL("http://a/b").href;
        const stream = typeof ReadableStream;
        const after = [lazy("URL"), lazy("URLSearchParams"), lazy("ReadableStream"), lazy("TransformStream")];
        const d = Object.getOwnPropertyDescriptor(globalThis, "URL");
        return { before, untouched, href, stream, after, descriptor: [d.writable, d.enumerable, d.configurable], name: ReadableStream.name };
      `),
    ).toEqual({
      before: [true, true, true, true],
      untouched: [true, true],
      href: "http://a/b",
      stream: "function",
      after: [false, false, false, false],
      descriptor: [true, false, true],
      name: "ReadableStream",
    });
  });

  it("lets user code replace a lazy global before it loads", async () => {
    const fresh = await createTestIsolate();
    try {
      expect(await fresh.run(`globalThis.WritableStream = "mine"; return [WritableStream, typeof ReadableStream, WritableStream];`)).toEqual([
        "mine",
        "function",
        "mine",
      ]);
    } finally {
      fresh.dispose();
    }
  });
});
