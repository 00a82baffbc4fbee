/** `edgefn ls`: the functions a site serves, one row each; `--json` prints the FunctionInfo list. */
import { z } from "zod";
import type { FunctionInfo } from "../../runtime/manifest.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { createOutput } from "../output.ts";
import { createSiteClient } from "../site-client.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";

const args = {
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print the functions as a JSON array" },
} as const;

const ArgsSchema = z.object({ site: z.string().optional(), token: z.string().optional(), json: z.boolean() });

export default defineCommand({
  meta: {
    name: "ls",
    description: "List the functions deployed to a site: version, digest, priority, status and age.",
    examples: ["edgefn ls", "edgefn ls --json | jq '.[].name'"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const { site, functions } = await createSiteClient(resolveTarget(a)).list();
    out.data(functions);
    if (functions.length === 0) {
      out.log(`Site ${site} serves no functions yet. Deploy one with \`edgefn deploy <dir>\`.`);
      return;
    }
    const [head, ...rows] = formatFunctionTable(functions, new Date());
    out.log(out.style("dim", head!));
    for (const row of rows) out.log(row);
  },
});

/** The table `ls` prints: a header, then one aligned row per function. */
export function formatFunctionTable(functions: FunctionInfo[], now: Date): string[] {
  const rows = [
    ["NAME", "VERSION", "DIGEST", "PRIORITY", "STATUS", "AGE"],
    ...functions.map((f) => [f.name, `v${f.version}`, f.digest.slice(0, 19), f.priority, f.status, formatAge(f.deployedAt, now)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
}

/** `45s`, `12m`, `5h`, `3d`: how long ago, as `kubectl get` shows it. */
export function formatAge(iso: string, now: Date): string {
  const ms = now.getTime() - Date.parse(iso);
  if (!Number.isFinite(ms)) return "?";
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
