/**
 * `edgefn secret put|rm <name> <SECRET>`: set or remove a secret the function reads as
 * `env.<SECRET>`. The value comes from stdin only (never argv, which `ps` and shell history
 * show) and is never printed.
 */
import { z } from "zod";
import { FunctionNameSchema, SecretNameSchema } from "../../runtime/manifest.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { CliError } from "../errors.ts";
import { createOutput } from "../output.ts";
import { createSiteClient } from "../site-client.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";

const args = {
  name: { type: "positional", required: true, description: "Function the secret belongs to (metadata.name)" },
  secret: { type: "positional", required: true, description: "Secret name; the function reads it as env.<SECRET>" },
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print the result as JSON" },
} as const;

const ArgsSchema = z.object({
  name: FunctionNameSchema,
  secret: SecretNameSchema,
  site: z.string().optional(),
  token: z.string().optional(),
  json: z.boolean(),
});

const put = defineCommand({
  meta: {
    name: "put",
    description: "Set a function's secret from stdin (one trailing newline is dropped).",
    examples: ["edgefn secret put hello API_KEY < key.txt", "printf %s \"$API_KEY\" | edgefn secret put hello API_KEY"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const client = createSiteClient(resolveTarget(a));
    const value = await readSecretValue(process.stdin, a.secret);
    await client.putSecret(a.name, a.secret, value);
    out.data({ function: a.name, secret: a.secret });
    out.success(`Set ${a.secret} for ${a.name}`);
  },
});

const rm = defineCommand({
  meta: {
    name: "rm",
    description: "Remove a function's secret.",
    examples: ["edgefn secret rm hello API_KEY"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const client = createSiteClient(resolveTarget(a));
    await client.removeSecret(a.name, a.secret);
    out.data({ function: a.name, secret: a.secret, removed: true });
    out.success(`Removed ${a.secret} from ${a.name}`);
  },
});

export default defineCommand({
  meta: {
    name: "secret",
    description: "Set and remove secrets of a function on a site.",
    examples: ["edgefn secret put hello API_KEY < key.txt", "edgefn secret rm hello API_KEY"],
  },
  subCommands: { put: async () => put, rm: async () => rm },
});

/**
 * All of stdin, minus one trailing newline (`echo` and editors add one; a second one is kept,
 * as part of the value). A terminal on stdin is refused: the value would echo on screen.
 */
export async function readSecretValue(stdin: NodeJS.ReadableStream & { isTTY?: boolean }, secret: string): Promise<Uint8Array> {
  if (stdin.isTTY) {
    throw new CliError("ERR_STDIN_TTY", `edgefn reads the value of ${secret} from stdin, and stdin is a terminal.`, {
      hint: `Pipe the value in or redirect a file, so it never shows on screen: \`edgefn secret put <name> ${secret} < file\`.`,
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  let value = Buffer.concat(chunks);
  if (value.at(-1) === 0x0a) value = value.subarray(0, value.at(-2) === 0x0d ? -2 : -1);
  if (value.length === 0) {
    throw new CliError("ERR_SECRET_EMPTY", `stdin was empty, so there is no value for ${secret}.`, {
      hint: `Pipe the value in or redirect a file: \`edgefn secret put <name> ${secret} < file\`. To remove a secret, use \`edgefn secret rm\`.`,
    });
  }
  return new Uint8Array(value);
}
