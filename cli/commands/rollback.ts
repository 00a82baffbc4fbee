/** `edgefn rollback <name> [--to <version>]`: a version the site kept serves again. */
import { z } from "zod";
import { FunctionNameSchema } from "../../runtime/manifest.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { createOutput } from "../output.ts";
import { createSiteClient } from "../site-client.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";

const args = {
  name: { type: "positional", required: true, description: "Function to roll back (metadata.name)" },
  to: { type: "string", valueHint: "version", description: "Version to serve, e.g. 2 or v2 (default: the one before the current)" },
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print the function as it is now, as JSON" },
} as const;

const ArgsSchema = z.object({
  name: FunctionNameSchema,
  to: z
    .string()
    .regex(/^v?[1-9]\d*$/, "must be a version number such as 2 or v2")
    .transform((v) => Number(v.replace(/^v/, "")))
    .optional(),
  site: z.string().optional(),
  token: z.string().optional(),
  json: z.boolean(),
});

export default defineCommand({
  meta: {
    name: "rollback",
    description: "Serve an earlier version of a function again (the site keeps the last few).",
    examples: ["edgefn rollback hello", "edgefn rollback hello --to v2"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const client = createSiteClient(resolveTarget(a));
    const before = await client.get(a.name);
    const after = await out.task(
      `Rolling ${a.name} back from v${before.version}`,
      () => client.rollback(a.name, a.to),
      (now) => `${a.name}: v${before.version} -> v${now.version} (${now.digest.slice(0, 19)})`,
    );
    out.data({ function: after, previous: { version: before.version, digest: before.digest } });
  },
});
