/** `edgefn status`: a site, its VAN as it sees it (links, reachable sites) and its functions. */
import { z } from "zod";
import type { SiteStatus } from "../../runtime/network-api.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { createOutput, type Output } from "../output.ts";
import { createSiteClient } from "../site-client.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";
import { alignRows, formatLinkTable } from "./link.ts";

const args = {
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print the status as JSON" },
} as const;

const ArgsSchema = z.object({ site: z.string().optional(), token: z.string().optional(), json: z.boolean() });

export default defineCommand({
  meta: {
    name: "status",
    description: "Show a site: its VAN (network, links, the sites it reaches) and its functions.",
    examples: ["edgefn status", "edgefn status --json | jq '.network.links'"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const status = await createSiteClient(resolveTarget(a)).status();
    out.data(status);
    printStatus(out, status);
  },
});

/** "62% (isolate CPU 58%, loop delay 3 ms); limiting best-effort to 2 in flight, low to 5". */
export function describeLoad(load: NonNullable<SiteStatus["load"]>): string {
  const figures = `${Math.round(load.pressure * 100)}% (isolate CPU ${Math.round(load.isolateCpu * 100)}%, loop delay ${Math.round(load.lagMs)} ms)`;
  if (load.shedding.length === 0) return `${figures}; admitting every priority`;
  const limits = load.shedding.map((p) => `${p} to ${load.limits[p] ?? 0} in flight`).join(", ");
  return `${figures}; saturated, limiting ${limits} (the rest goes to other sites, or gets 503 + Retry-After)`;
}

/** "synced at 3f2a9c1b7d0e from https://git.example/fleet.git (main)", or what went wrong. */
export function describeGitops(g: NonNullable<SiteStatus["gitops"]>): string {
  const at = g.applied === null ? "nothing applied yet" : `at ${g.applied.commit.slice(0, 12)}`;
  const problem = g.error === null ? "" : `: ${g.error.code}${g.error.file === undefined ? "" : ` in ${g.error.file}`}`;
  const offline = g.offlineSince === null ? "" : ` since ${g.offlineSince}`;
  return `${g.state}${offline}${problem}, ${at}, from ${g.repo} (${g.branch}); \`edgefn gitops status\` for more`;
}

/** The human form: site, network, links, sites, functions; each table aligned under a heading. */
export function printStatus(out: Output, s: SiteStatus): void {
  const dim = (t: string) => out.style("dim", t);
  const bold = (t: string) => out.style("bold", t);
  const table = (lines: string[]) => {
    const [head, ...rows] = lines;
    out.log(`  ${dim(head!)}`);
    for (const row of rows) out.log(`  ${row}`);
  };

  out.log(`${bold("Site")} ${s.site} ${dim(`(region ${s.region})`)}`);
  out.log(`  ingress  ${s.ingressUrl}`);
  if (s.load !== undefined) out.log(`  load     ${describeLoad(s.load)}`);
  if (s.gitops !== undefined) out.log(`  gitops   ${describeGitops(s.gitops)}`);
  out.log();

  const n = s.network;
  if (n === null) {
    out.log(`${bold("Network")} none: this site runs without a VAN, so it serves only its own functions.`);
    out.log(`  To join one, start it with a VAN listener: edgefn site up <site-dir> --van <host:port>`);
  } else {
    out.log(`${bold("Network")} ${n.id}`);
    out.log(`  trust    ${n.trust}${n.trust === "untrusted" ? ` (may serve: ${n.grants.length === 0 ? "nothing" : n.grants.join(", ")})` : ""}`);
    out.log(`  CA       ${n.holdsCa ? "held here: this site can issue link tokens (`edgefn token create`)" : "held by another site"}`);
    out.log(`  ${dim(`CA fingerprint ${n.caFingerprint}`)}`);
    out.log(`  listen   ${n.listen}`);
    out.log();
    out.log(bold("Links"));
    if (n.links.length === 0) {
      out.log("  none. Link to another site with `edgefn link create <token-file>`.");
    } else {
      table(formatLinkTable(n.links));
    }
    out.log();
    out.log(bold("Sites"));
    table(
      alignRows([
        ["SITE", "COST", "VIA", "TRUST", "FUNCTIONS"],
        ...n.sites.map((r) => [
          r.via === null && r.cost === 0 ? `${r.site} (this site)` : r.site,
          String(r.cost),
          r.via ?? "-",
          r.trust ?? "-",
          r.functions.length === 0 ? "-" : r.functions.join(", "),
        ]),
      ]),
    );
  }
  out.log();

  out.log(bold("Functions"));
  if (s.functions.length === 0) {
    out.log("  none deployed here. Deploy one with `edgefn deploy <dir>`.");
    return;
  }
  table(
    alignRows([
      ["NAME", "VERSION", "PRIORITY", "ATTACHED"],
      ...s.functions.map((f) => [f.name, `v${f.version}`, f.priority, f.attached ? "yes" : "no"]),
    ]),
  );
  if (n !== null && s.functions.some((f) => !f.attached)) {
    out.log(dim("  attached: its receiver is attached to this site's router, so the VAN routes calls to it here."));
  }
}
