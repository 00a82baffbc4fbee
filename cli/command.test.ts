import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineCommand, renderUsage, runCommand, validateArgs, type ArgsDef } from "./command.ts";
import { exitCodeFor, UsageError } from "./errors.ts";

const seen: unknown[] = [];
const args = {
  name: { type: "positional", required: true, description: "Function to call" },
  path: { type: "positional", default: "/", description: "Path inside it" },
  port: { type: "string", alias: "p", default: "8787", description: "Port" },
  header: { type: "string", alias: "H", multiple: true, description: "Header" },
  json: { type: "boolean", description: "JSON output" },
} as const satisfies ArgsDef;

const leaf = defineCommand({
  meta: { name: "call", description: "Call something." },
  args,
  run(ctx) {
    const a = validateArgs(ctx, args, z.object({ port: z.coerce.number().int().max(65535) }).loose());
    seen.push({ ...ctx.args, portNumber: a.port });
  },
});
const root = defineCommand({
  meta: { name: "edgefn", description: "Root.", version: "1.2.3" },
  subCommands: { call: async () => leaf },
});

async function usageError(argv: string[]): Promise<UsageError> {
  try {
    await runCommand(root, argv);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error("expected a usage error");
}

describe("runCommand", () => {
  it("parses positionals, defaults, aliases, repeated flags and booleans", async () => {
    seen.length = 0;
    const result = await runCommand(root, ["call", "hello", "/x", "-H", "a: 1", "--header=b: 2", "--json", "-p", "9000"]);
    expect(result).toEqual({ kind: "ran", code: 0 });
    expect(seen).toEqual([{ name: "hello", path: "/x", port: "9000", header: ["a: 1", "b: 2"], json: true, portNumber: 9000 }]);
  });

  it("fills defaults when flags are absent", async () => {
    seen.length = 0;
    await runCommand(root, ["call", "hello"]);
    expect(seen).toEqual([{ name: "hello", path: "/", port: "8787", header: [], json: false, portNumber: 8787 }]);
  });

  it.each([
    [["call"], "Missing argument <name>: function to call."],
    [["call", "hello", "--nope"], "Unknown option --nope."],
    [["call", "hello", "--port"], "Option -p, --port needs a value."],
    [["call", "hello", "--json=yes"], "Option --json does not take a value."],
    [["call", "a", "b", "c"], 'Unexpected argument "c".'],
    [["call", "hello", "--port", "99999"], 'Invalid --port "99999": Too big: expected number to be <=65535.'],
    [["frob"], 'Unknown command "frob".'],
    [[], "Missing command."],
  ])("%j is a usage error (exit 2): %s", async (argv, message) => {
    const err = await usageError(argv);
    expect(err.message).toBe(message);
    expect(err.code).toBe("ERR_USAGE");
    expect(exitCodeFor(err)).toBe(2);
    expect(err.usage).toMatch(/^.*\n\nUsage: edgefn/);
  });

  it("returns help text for --help on any command, and the version", async () => {
    expect(await runCommand(root, ["--help"])).toEqual({ kind: "help", text: await renderUsage(root) });
    expect(await runCommand(root, ["--version"])).toEqual({ kind: "help", text: "1.2.3" });
    const help = await runCommand(root, ["call", "-h"]);
    expect(help.kind === "help" && help.text).toMatchInlineSnapshot(`
      "Call something.

      Usage: edgefn call <name> [path] [options]

      Arguments:
        <name>  Function to call
        [path]  Path inside it (default: /)

      Options:
        -p, --port <port>      Port (default: 8787)
        -H, --header <header>  Header (repeatable)
            --json             JSON output
        -h, --help             Show this help"
    `);
  });

  it("treats arguments after -- as positionals, even --help", async () => {
    seen.length = 0;
    await runCommand(root, ["call", "--", "--help"]);
    expect(seen).toMatchObject([{ name: "--help" }]);
  });
});

describe("exitCodeFor", () => {
  it.each([
    [new UsageError("x"), 2],
    [Object.assign(new Error("refused"), { code: "ECONNREFUSED" }), 1],
    [{ code: "ERR_FUNCTION_THREW", message: "boom" }, 1],
    [new TypeError("undefined is not a function"), 70],
    ["a string", 70],
  ])("%s -> %i", (err, code) => expect(exitCodeFor(err)).toBe(code));
});
