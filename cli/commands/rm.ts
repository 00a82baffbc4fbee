/** `edgefn rm <name>`: the site stops serving a function. */
import { z } from "zod";
import { FunctionNameSchema } from "../../runtime/manifest.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { createOutput } from "../output.ts";
import { createSiteClient } from "../site-client.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";

const args = {
  name: { type: "positional", required: true, description: "Function to remove (metadata.name)" },
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print the result as JSON" },
} as const;

const ArgsSchema = z.object({ name: FunctionNameSchema, site: z.string().optional(), token: z.string().optional(), json: z.boolean() });

export default defineCommand({
  meta: {
    name: "rm",
    description: "Remove a function from a site.",
    examples: ["edgefn rm api"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const client = createSiteClient(resolveTarget(a));
    await client.remove(a.name);
    out.data({ removed: a.name });
    out.success(`Removed ${a.name} from ${client.target.url}`);
  },
});
