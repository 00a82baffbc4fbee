import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestIsolate, type TestIsolate } from "./_test-platform.ts";

let t: TestIsolate;
beforeAll(async () => {
  t = await createTestIsolate();
});
afterAll(() => t.dispose());

type Outcome = { text: string[] } | { error: string };

/** Decodes `chunks` (each [bytes, stream]) with one decoder, in Node and in the isolate. */
const DECODE = (label: string, options: object, chunks: [number[], boolean][]) => `
  let d;
  try {
    d = new TextDecoder(${JSON.stringify(label)}, ${JSON.stringify(options)});
    const text = [];
    for (const [bytes, stream] of ${JSON.stringify(chunks)}) text.push(d.decode(new Uint8Array(bytes), { stream }));
    return { text, encoding: d.encoding };
  } catch (e) { return { error: e.name, encoding: d?.encoding } }
`;

function inNode(body: string): Outcome {
  return new Function(body)() as Outcome;
}

const bytes = (...b: number[]) => b;
const whole = (b: number[]): [number[], boolean][] => [[b, false]];

const DECODE_CASES: [string, string, object, [number[], boolean][]][] = [
  ["ascii", "utf-8", {}, whole(bytes(0x68, 0x69))],
  ["2/3/4-byte", "utf-8", {}, whole([...Buffer.from("é€😀")])],
  ["BOM dropped", "utf-8", {}, whole(bytes(0xef, 0xbb, 0xbf, 0x41))],
  ["BOM kept with ignoreBOM", "utf-8", { ignoreBOM: true }, whole(bytes(0xef, 0xbb, 0xbf, 0x41))],
  ["two BOMs: only the first dropped", "utf-8", {}, whole(bytes(0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf))],
  ["BOM split across stream chunks", "utf-8", {}, [[bytes(0xef, 0xbb), true], [bytes(0xbf, 0x41), false]]],
  ["BOM in the second chunk is kept", "utf-8", {}, [[bytes(0x41), true], [bytes(0xef, 0xbb, 0xbf), false]]],
  ["BOM dropped again after a flush", "utf-8", {}, [[bytes(0xef, 0xbb, 0xbf, 0x41), false], [bytes(0xef, 0xbb, 0xbf, 0x42), false]]],
  ["lone continuation", "utf-8", {}, whole(bytes(0x80, 0x41))],
  ["overlong 2-byte", "utf-8", {}, whole(bytes(0xc0, 0xaf))],
  ["overlong 3-byte", "utf-8", {}, whole(bytes(0xe0, 0x80, 0xaf))],
  ["surrogate encoded", "utf-8", {}, whole(bytes(0xed, 0xa0, 0x80))],
  ["above U+10FFFF", "utf-8", {}, whole(bytes(0xf4, 0x90, 0x80, 0x80))],
  ["truncated 4-byte then ascii", "utf-8", {}, whole(bytes(0xf0, 0x9f, 0x98, 0x41))],
  ["truncated at the end", "utf-8", {}, whole(bytes(0x41, 0xe2, 0x82))],
  ["0xFF and 0xFE", "utf-8", {}, whole(bytes(0xff, 0xfe, 0x41))],
  ["fatal: invalid", "utf-8", { fatal: true }, whole(bytes(0x41, 0xff))],
  ["fatal: truncated", "utf-8", { fatal: true }, whole(bytes(0xe2, 0x82))],
  ["fatal: truncated but streaming", "utf-8", { fatal: true }, [[bytes(0xe2, 0x82), true], [bytes(0xac), false]]],
  ["stream: incomplete then flush", "utf-8", {}, [[bytes(0xe2, 0x82), true], [[], false]]],
  ["utf-16le", "utf-16le", {}, whole(bytes(0x41, 0x00, 0x3d, 0xd8, 0x00, 0xde))],
  ["utf-16le BOM", "utf-16le", {}, whole(bytes(0xff, 0xfe, 0x41, 0x00))],
  ["utf-16le lone surrogate", "utf-16le", {}, whole(bytes(0x41, 0x00, 0x00, 0xd8, 0x42, 0x00))],
  ["utf-16le odd byte", "utf-16le", {}, whole(bytes(0x41, 0x00, 0x42))],
  ["utf-16le split", "utf-16le", {}, [[bytes(0x41), true], [bytes(0x00, 0x3d, 0xd8), true], [bytes(0x00, 0xde), false]]],
  ["utf-16le fatal", "utf-16le", { fatal: true }, whole(bytes(0x00, 0xdc))],
  ["utf-16be", "utf-16be", {}, whole(bytes(0x00, 0x41, 0xd8, 0x3d, 0xde, 0x00))],
  ["utf-16 label", "utf-16", {}, whole(bytes(0x41, 0x00))],
  ["latin1 is windows-1252", "latin1", {}, whole(bytes(0x41, 0x80, 0x81, 0x9f, 0xa0, 0xe9, 0xff))],
  ["ascii label", " ASCII\n", {}, whole(bytes(0x41, 0x92))],
  ["x-user-defined", "x-user-defined", {}, whole(bytes(0x41, 0x80, 0xff))],
  ["shift_jis (host)", "shift_jis", {}, whole(bytes(0x82, 0xa0, 0x41))],
  ["shift_jis streaming split", "sjis", {}, [[bytes(0x82), true], [bytes(0xa0), false]]],
  ["gbk (host)", "gbk", {}, whole(bytes(0xc4, 0xe3, 0xba, 0xc3))],
  ["koi8-r (host)", "koi8-r", {}, whole(bytes(0xc1, 0xc2))],
  ["iso-8859-2 (host)", "latin2", {}, whole(bytes(0xa1, 0xb1))],
  ["euc-kr fatal (host)", "euc-kr", { fatal: true }, whole(bytes(0xff, 0xff))],
  ["unknown label", "klingon", {}, whole([])],
  ["replacement label", "iso-2022-kr", {}, whole([])],
];

describe("TextDecoder conforms to Node's", () => {
  it.each(DECODE_CASES)("%s", async (_name, label, options, chunks) => {
    const body = DECODE(label, options, chunks);
    expect(await t.run(body)).toEqual(inNode(body));
  });

  it("decodes every split of a multi-byte sequence while streaming", async () => {
    const input = [...Buffer.from("aé€😀z")];
    const body = `
      const input = new Uint8Array(${JSON.stringify(input)});
      const out = [];
      for (let a = 0; a <= input.length; a++) {
        for (let b = a; b <= input.length; b++) {
          const d = new TextDecoder();
          out.push(d.decode(input.subarray(0, a), { stream: true }) + d.decode(input.subarray(a, b), { stream: true }) + d.decode(input.subarray(b)));
        }
      }
      return out;`;
    const got = await t.run<string[]>(body);
    expect(got).toEqual(inNode(body));
    expect(new Set(got)).toEqual(new Set(["aé€😀z"]));
  });

  it("decodes views into larger buffers, DataViews and ArrayBuffers", async () => {
    const body = `
      const buf = new Uint8Array([0x78, 0x68, 0x69, 0x78]).buffer;
      const d = new TextDecoder();
      return [d.decode(new Uint8Array(buf, 1, 2)), d.decode(new DataView(buf, 1, 1)), d.decode(buf), d.decode(), d.decode(undefined)];`;
    expect(await t.run(body)).toEqual(inNode(body));
  });

  it("rejects what is not a BufferSource with a TypeError", async () => {
    const body = `const out = []; for (const v of ["x", null, 1, {}]) { try { new TextDecoder().decode(v); out.push("ok") } catch (e) { out.push(e.name) } } return out;`;
    expect(await t.run(body)).toEqual(inNode(body));
  });

  it("maps labels to the same encodings", async () => {
    const labels = ["unicode-1-1-utf-8", "UTF8", "866", "iso_8859-2:1987", "csisolatin9", "x-mac-ukrainian", "ms932", "windows-949", "unicodefffe", "ucs-2", "us-ascii", "koi8_r", "gb18030", "big5-hkscs", "dos-874", "logical"];
    const body = `return ${JSON.stringify(labels)}.map((l) => new TextDecoder(l).encoding);`;
    expect(await t.run(body)).toEqual(inNode(body));
  });

  it("reports its options", async () => {
    const body = `const d = new TextDecoder("UTF8", { fatal: 1, ignoreBOM: "yes" }); return [d.encoding, d.fatal, d.ignoreBOM, Object.prototype.toString.call(d)];`;
    expect(await t.run(body)).toEqual(inNode(body));
  });
});

const ENCODE_CASES = ["", "hello", "é€😀", "a\u0000b", "\ud800", "x\udc00y", "\ud83d\ude00\ud83d", "日本語テキスト".repeat(100), "a".repeat(20000) + "é"];

describe("TextEncoder conforms to Node's", () => {
  it.each(ENCODE_CASES.map((s) => [JSON.stringify(s).slice(0, 40), s]))("encode(%s)", async (_name, input) => {
    const got = await t.run<Uint8Array>(`return new TextEncoder().encode(${JSON.stringify(input)})`);
    expect(Buffer.from(got)).toEqual(Buffer.from(new TextEncoder().encode(input)));
  });

  it("encodeInto stops at a whole code point, as Node does", async () => {
    const inputs = ["hello", "é€😀", "😀😀", "a\ud800b", ""];
    const body = `
      const out = [];
      for (const input of ${JSON.stringify(inputs)}) {
        for (let size = 0; size <= 10; size++) {
          const dest = new Uint8Array(size);
          const r = new TextEncoder().encodeInto(input, dest);
          out.push([r.read, r.written, Array.from(dest)]);
        }
      }
      return out;`;
    expect(await t.run(body)).toEqual(inNode(body));
  });

  it("encodes non-strings by String() and has encoding utf-8", async () => {
    const body = `const e = new TextEncoder(); return [Array.from(e.encode(12)), Array.from(e.encode(undefined)), Array.from(e.encode(null)), e.encoding];`;
    expect(await t.run(body)).toEqual(inNode(body));
  });
});
