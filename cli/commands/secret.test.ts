import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { readSecretValue } from "./secret.ts";

const stdin = (...chunks: (string | Buffer)[]) => Readable.from(chunks.map((c) => Buffer.from(c)));
const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

describe("readSecretValue", () => {
  it.each([
    ["drops one trailing newline", ["s3cret\n"], "s3cret"],
    ["drops one trailing CRLF", ["s3cret\r\n"], "s3cret"],
    ["keeps a second newline: it is part of the value", ["line1\nline2\n\n"], "line1\nline2\n"],
    ["keeps a value without a newline as it is", ["s3cret"], "s3cret"],
    ["joins chunks", ["s3", "cr", "et\n"], "s3cret"],
  ])("%s", async (_name, chunks, expected) => {
    expect(text(await readSecretValue(stdin(...chunks), "API_KEY"))).toBe(expected);
  });

  it("passes bytes through untouched", async () => {
    const bytes = Buffer.from([0, 255, 0x0a, 0x80]);
    expect(Buffer.from(await readSecretValue(Readable.from([bytes]), "BLOB"))).toEqual(Buffer.from([0, 255, 0x0a, 0x80]));
  });

  it("refuses a terminal on stdin, so the value never shows on screen", async () => {
    const tty = Object.assign(stdin("typed"), { isTTY: true });
    await expect(readSecretValue(tty, "API_KEY")).rejects.toMatchObject({
      code: "ERR_STDIN_TTY",
      hint: "Pipe the value in or redirect a file, so it never shows on screen: `edgefn secret put <name> API_KEY < file`.",
    });
  });

  it.each([[[]], [["\n"]]])("refuses an empty value (%j)", async (chunks) => {
    await expect(readSecretValue(stdin(...chunks), "API_KEY")).rejects.toMatchObject({ code: "ERR_SECRET_EMPTY" });
  });
});
