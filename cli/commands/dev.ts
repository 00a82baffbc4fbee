/**
 * `edgefn dev <dir>`: a local site. Builds every function under <dir>, starts the runtime as
 * a child process, deploys them, prints their URLs and the runtime's logs, and redeploys on
 * save. Ctrl+C (SIGINT) or SIGTERM stops the runtime and exits 0; if the runtime dies on its
 * own, exit 1.
 */
import path from "node:path";
import { z } from "zod";
import { defineCommand, validateArgs } from "../command.ts";
import { startDevSession } from "../dev-session.ts";
import { CliError } from "../errors.ts";
import { createOutput } from "../output.ts";

const args = {
  dir: { type: "positional", default: ".", description: "Folder to search for edgefn.yaml files" },
  port: { type: "string", alias: "p", default: "8787", valueHint: "port", description: "HTTP port of the local site (0: any free port)" },
  host: { type: "string", default: "127.0.0.1", valueHint: "address", description: "Address to listen on" },
  site: { type: "string", default: "local", valueHint: "name", description: "Site name the functions see as ctx.site" },
  verbose: { type: "boolean", description: "Also show the runtime's info and debug log lines" },
  json: { type: "boolean", description: "Print events and the runtime's log lines as JSON lines" },
} as const;

const ArgsSchema = z.object({
  dir: z.string().min(1),
  port: z
    .string()
    .regex(/^\d+$/, "must be a port number")
    .transform(Number)
    .pipe(z.number().max(65535, "must be at most 65535")),
  host: z.string().min(1),
  site: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be lower-case letters, digits and '-'"),
  verbose: z.boolean(),
  json: z.boolean(),
});

export default defineCommand({
  meta: {
    name: "dev",
    description: "Serve every function under a folder on a local site, reloading on save.",
    examples: ["edgefn dev ./fns --port 8787", "edgefn dev . --host 0.0.0.0 --site lab"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json, verbose: a.verbose });

    // Installed first, so a signal during start-up also stops the child.
    const stop = new AbortController();
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) stop.abort(signal);
      else if (session) void session.runtime.stop(0); // second Ctrl+C: do not wait
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let session: Awaited<ReturnType<typeof startDevSession>> | undefined;
    try {
      try {
        session = await startDevSession({
          root: path.resolve(a.dir),
          host: a.host,
          port: a.port,
          site: a.site,
          out,
          signal: stop.signal,
        });
      } catch (err) {
        if (stop.signal.aborted) return 0;
        throw err;
      }
      const stopped = new Promise<"signal">((resolve) => stop.signal.addEventListener("abort", () => resolve("signal")));
      let outcome = await Promise.race([stopped, session.runtime.exited]);
      // A Ctrl+C reaches the runtime too, and it may exit before our own handler has run.
      if (outcome !== "signal") await new Promise((r) => setTimeout(r, 100));
      if (stop.signal.aborted) outcome = "signal";
      if (outcome === "signal" || outcome.signal === "SIGINT") {
        out.log();
        out.step("Stopping the runtime…");
        await session.close();
        out.data({ event: "stopped" });
        return 0;
      }
      await session.close();
      const tail = session.runtime.tail();
      throw new CliError(
        "ERR_RUNTIME_EXITED",
        `The runtime exited unexpectedly (${outcome.signal ?? `code ${outcome.code}`}); no function is being served.`,
        {
          ...(tail === "" ? {} : { details: `Its last output:\n${tail}` }),
          hint: "Its last output above may say why. Start `edgefn dev` again; if it keeps happening, report it with that output.",
        },
      );
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
});
