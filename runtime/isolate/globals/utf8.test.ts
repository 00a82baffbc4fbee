import { describe, expect, it } from "vitest";
import { Utf8Decoder, decodeUtf8, decodeUtf8WithoutBOM, encodeUtf8 } from "./utf8.ts";

/** Deterministic pseudo-random bytes biased towards UTF-8 lead and continuation bytes. */
function randomBytes(seed: number, length: number): Uint8Array {
  let x = seed;
  const next = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
  const pick = [0x41, 0x7f, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x90, 0x8f];
  return Uint8Array.from({ length }, () => (next() % 3 === 0 ? pick[next() % pick.length]! : next()));
}

describe("utf8", () => {
  it("decodes as Node's TextDecoder does, replacement characters included", () => {
    const node = new TextDecoder();
    for (let seed = 1; seed <= 500; seed++) {
      const bytes = randomBytes(seed, 1 + (seed % 40));
      expect(decodeUtf8(bytes)).toBe(node.decode(bytes));
    }
  });

  it("decodes in chunks as in one piece, and the BOM only at the start", () => {
    const node = new TextDecoder();
    for (let seed = 1; seed <= 200; seed++) {
      const bytes = Uint8Array.from([0xef, 0xbb, 0xbf, ...randomBytes(seed, 30)]);
      const decoder = new Utf8Decoder();
      let out = "";
      for (let i = 0; i < bytes.length; i += 1 + (seed % 4)) out += decoder.decode(bytes.subarray(i, i + 1 + (seed % 4)), true);
      out += decoder.decode(new Uint8Array(0), false);
      expect(out).toBe(node.decode(bytes));
    }
    expect(decodeUtf8WithoutBOM(Uint8Array.of(0xef, 0xbb, 0xbf, 0x41))).toBe("\ufeffA");
  });

  it("throws when fatal, where Node's fatal decoder throws", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const bytes = randomBytes(seed, 12);
      let expected: string;
      try {
        expected = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        expected = "threw";
      }
      let actual: string;
      try {
        actual = new Utf8Decoder(false, true).decode(bytes);
      } catch {
        actual = "threw";
      }
      expect(actual).toBe(expected);
    }
  });

  it("encodes as Node's TextEncoder, lone surrogates as U+FFFD", () => {
    const node = new TextEncoder();
    const samples = ["", "ascii", "é€😀", "\ud800", "a\udc00b", "\ud83d\ude00\ud83d", "x".repeat(10000) + "ü"];
    for (const s of samples) expect([...encodeUtf8(s)]).toEqual([...node.encode(s)]);
    const long = String.fromCharCode(...Array.from({ length: 5000 }, (_, i) => (i * 7919) % 0xffff));
    expect(Buffer.from(encodeUtf8(long)).equals(Buffer.from(node.encode(long)))).toBe(true);
  });
});
