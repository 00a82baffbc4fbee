/**
 * `edgefn site up <dir>`: runs the site in the foreground: the runtime with the site's name,
 * region, token and durable state (EDGEFN_STATE_DIR=<dir>), its URLs, then its logs. Ctrl+C
 * (SIGINT) or SIGTERM stops it and exits 0; if the runtime dies on its own, exit 1 with its
 * last lines.
 */
import path from "node:path";
import { z } from "zod";
import { defineCommand, validateArgs } from "../command.ts";
import { formatLogLine } from "../dev-log.ts";
import { CliError } from "../errors.ts";
import { createOutput, type Output } from "../output.ts";
import { displayPath } from "../project.ts";
import { hostPort, SITE_MAIN, startRuntimeProcess, type RuntimeProcess } from "../runtime-process.ts";
import { loadSiteDir } from "../site-dir.ts";

const args = {
  dir: { type: "positional", required: true, description: "The site directory (from `edgefn site init`)" },
  http: { type: "string", default: "127.0.0.1:8080", valueHint: "host:port", description: "Where the ingress listens (port 0: any free port)" },
  control: { type: "string", default: "127.0.0.1:9080", valueHint: "host:port", description: "Where the control API listens (port 0: any free port)" },
  van: {
    type: "string",
    valueHint: "host:port",
    description: "Where the site listens for other sites (mutual TLS); without it the site joins no VAN",
  },
  verbose: { type: "boolean", description: "Also show the runtime's info and debug log lines" },
  json: { type: "boolean", description: "Print events and the runtime's log lines as JSON lines" },
} as const;

const HostPortSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):\d{1,5}$/, "must be host:port, e.g. 127.0.0.1:8080")
  .transform((s) => ({ host: s.slice(0, s.lastIndexOf(":")).replace(/^\[|\]$/g, ""), port: Number(s.slice(s.lastIndexOf(":") + 1)) }))
  .refine((a) => a.port <= 65535, "the port must be 0-65535");

const ArgsSchema = z.object({
  dir: z.string().min(1),
  http: HostPortSchema,
  control: HostPortSchema,
  van: HostPortSchema.optional(),
  verbose: z.boolean(),
  json: z.boolean(),
});

export default defineCommand({
  meta: {
    name: "up",
    description: "Run a site in the foreground: its ingress, its control API and its logs.",
    examples: [
      "edgefn site up ./site-a",
      "edgefn site up ./site-a --http 0.0.0.0:8081 --control 127.0.0.1:9081",
      "edgefn site up ./site-a --van 10.0.0.1:5671",
    ],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json, verbose: a.verbose });
    const site = await loadSiteDir(path.resolve(a.dir));
    const { name, region, trust } = site.config;

    // Installed first, so a signal during start-up also stops the child.
    const stop = new AbortController();
    let runtime: RuntimeProcess | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (!stop.signal.aborted) stop.abort(signal);
      else if (runtime) void runtime.stop(0); // second Ctrl+C: do not wait
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      try {
        runtime = await out.task(
          `Starting site ${name}`,
          () =>
            startRuntimeProcess({
              host: a.http.host,
              port: a.http.port,
              control: a.control,
              site: name,
              region,
              token: site.token,
              ...(a.van === undefined ? {} : { van: a.van }),
              trust,
              addressFlags: a.van === undefined ? "--http or --control" : "--http, --control or --van",
              env: { EDGEFN_STATE_DIR: site.dir },
              entry: SITE_MAIN,
              signal: stop.signal,
              onLine: (line, stream) => printLine(out, line, stream),
            }),
          () => `Site ${name} (region ${region}) is up`,
        );
      } catch (err) {
        if (stop.signal.aborted) return 0;
        throw err;
      }
      const { ready } = runtime;
      const van = a.van !== undefined && ready.vanPort !== undefined ? hostPort(a.van.host, ready.vanPort) : undefined;
      out.data({
        event: "ready",
        site: name,
        region,
        trust,
        url: ready.url,
        controlUrl: ready.controlUrl,
        ...(van === undefined ? {} : { van }),
        stateDir: path.join(site.dir, "state"),
      });
      out.log(`  ingress  ${ready.url}`);
      out.log(`  control  ${ready.controlUrl}`);
      if (van !== undefined) out.log(`  van      ${van}  ${out.style("dim", `(mutual TLS; this site is ${trust})`)}`);
      if (a.van !== undefined && ready.vanPort === undefined) {
        out.warn("The runtime did not report a VAN listener (no vanPort in its ready line), so this site may not be in a VAN.", "Check its log lines below, and `edgefn status` for its network.");
      }
      out.log();
      out.log("To deploy to it, from another terminal:");
      out.log(`  export EDGEFN_SITE=${ready.controlUrl} EDGEFN_TOKEN=$(cat ${shellQuote(displayPath(site.files.token))})`);
      out.log("  edgefn deploy ./fns");
      out.log("Or let it pull its functions from git:");
      out.log("  edgefn gitops attach --repo <url or path> --branch main");
      if (van !== undefined) {
        out.log("To link another site to this one (if this one holds the network's CA; `edgefn status` says):");
        out.log("  edgefn token create > a.token");
      }
      out.log();
      out.log("Showing the site's logs. Press Ctrl+C to stop it.");

      const stopped = new Promise<"signal">((resolve) => stop.signal.addEventListener("abort", () => resolve("signal")));
      let outcome = await Promise.race([stopped, runtime.exited]);
      // A Ctrl+C reaches the runtime too, and it may exit before our own handler has run.
      if (outcome !== "signal") await new Promise((r) => setTimeout(r, 100));
      if (stop.signal.aborted) outcome = "signal";
      if (outcome === "signal" || outcome.signal === "SIGINT") {
        out.log();
        out.step(`Stopping site ${name}…`);
        await runtime.stop();
        out.data({ event: "stopped" });
        return 0;
      }
      const tail = runtime.tail();
      throw new CliError("ERR_RUNTIME_EXITED", `The site's runtime exited unexpectedly (${outcome.signal ?? `code ${outcome.code}`}); site ${name} is down.`, {
        ...(tail === "" ? {} : { details: `Its last output:\n${tail}` }),
        hint: `Its last output above may say why. Start it again with \`edgefn site up ${displayPath(site.dir)}\`; deployed functions come back from ${displayPath(path.join(site.dir, "state"))}.`,
      });
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
});

function printLine(out: Output, line: string, stream: "stdout" | "stderr"): void {
  if (out.json) {
    if (stream === "stdout") out.data(safeJSON(line) ?? { event: "log", line });
    return;
  }
  if (stream === "stderr") return out.note(out.style("dim", line, "stderr"));
  const text = formatLogLine(line, { verbose: out.verbose, style: (f, t) => out.style(f, t) });
  if (text !== undefined) out.log(text);
}

/** Paths with spaces or quotes survive being pasted into a shell. */
function shellQuote(s: string): string {
  return /^[\w./@%+=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function safeJSON(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
