/**
 * `edgefn logs <name>`: a function's recent log lines from the site (console output and
 * requests), printed as `edgefn dev` prints them; `--follow` keeps printing new ones until
 * Ctrl+C (exit 0). `--json` prints the site's JSON lines as they are.
 */
import { z } from "zod";
import { FunctionNameSchema } from "../../runtime/manifest.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { formatLogLine } from "../dev-log.ts";
import { CliError } from "../errors.ts";
import { createOutput } from "../output.ts";
import { createSiteClient } from "../site-client.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";

const args = {
  name: { type: "positional", required: true, description: "Function whose lines to show (metadata.name)" },
  follow: { type: "boolean", alias: "f", description: "Keep printing new lines until Ctrl+C" },
  tail: { type: "string", alias: "n", valueHint: "lines", description: "How many recent lines to start with (default: the site's, 100)" },
  verbose: { type: "boolean", description: "Also show the runtime's info and debug lines about this function" },
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print the site's JSON log lines as they are" },
} as const;

const ArgsSchema = z.object({
  name: FunctionNameSchema,
  follow: z.boolean(),
  tail: z
    .string()
    .regex(/^\d+$/, "must be a number of lines")
    .transform(Number)
    .optional(),
  verbose: z.boolean(),
  site: z.string().optional(),
  token: z.string().optional(),
  json: z.boolean(),
});

export default defineCommand({
  meta: {
    name: "logs",
    description: "Show a function's log lines from its site; --follow streams new ones.",
    examples: ["edgefn logs hello", "edgefn logs hello --follow", "edgefn logs hello --tail 20 --json"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json, verbose: a.verbose });
    const client = createSiteClient(resolveTarget(a));

    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      const lines = client.logs({
        function: a.name,
        follow: a.follow,
        ...(a.tail === undefined ? {} : { tail: a.tail }),
        signal: stop.signal,
      });
      let count = 0;
      for await (const { line, raw } of lines) {
        count += 1;
        if (out.json) {
          out.data(line);
          continue;
        }
        const text = formatLogLine(raw, { verbose: out.verbose, style: (f, t) => out.style(f, t) });
        if (text !== undefined) out.log(text);
      }
      if (count === 0 && !a.follow) out.note(`No log lines from ${a.name} yet.`);
      if (a.follow && !stop.signal.aborted) {
        throw new CliError("ERR_CONNECTION_FAILED", `The site at ${client.target.url} closed the log stream.`, {
          hint: "Did the site stop? Check the terminal running `edgefn site up`, then run `edgefn logs --follow` again.",
        });
      }
    } catch (err) {
      // Ctrl+C ends a followed stream: that is the normal way out.
      if (stop.signal.aborted) return 0;
      throw err;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    return 0;
  },
});
