/**
 * `edgefn token create`: a one-time link token from a site that holds its network's CA. The
 * token (JSON) is the only thing on stdout, so `> a.token` captures exactly it; what it is and
 * what to do with it goes to stderr. `edgefn link create <token-file>` on another site redeems it.
 */
import { z } from "zod";
import { FunctionNameSchema } from "../../runtime/manifest.ts";
import { HostPortSchema, TOKEN_DEFAULT_TTL_S, TOKEN_MAX_TTL_S, type LinkToken } from "../../runtime/network-api.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { createOutput, type Output } from "../output.ts";
import { createSiteClient } from "../site-client.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";

const UNITS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** `30s`, `15m`, `2h`, `7d` (a bare number is seconds) -> seconds; undefined if it is none of those. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNITS[(m[2] || "s") as keyof typeof UNITS];
}

/** `15m`, `2h`, `7d`, `90s`: the largest unit that divides it. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

const args = {
  expires: {
    type: "string",
    default: formatDuration(TOKEN_DEFAULT_TTL_S),
    valueHint: "duration",
    description: `How long the token can be used: 30s, 15m, 2h, 7d (at most ${formatDuration(TOKEN_MAX_TTL_S)})`,
  },
  uses: { type: "string", default: "1", valueHint: "n", description: "How many sites may link with it (default 1: one-time)" },
  untrusted: { type: "boolean", description: "The site that redeems it joins as untrusted, whatever it says it is" },
  grant: {
    type: "string",
    multiple: true,
    valueHint: "fn,fn",
    description: "Functions an untrusted site may serve, comma-separated",
  },
  "van-address": {
    type: "string",
    valueHint: "host:port",
    description: "Where the other site reaches this one's VAN listener (default: the address it listens on)",
  },
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print only the token, as one line of JSON" },
} as const;

const ArgsSchema = z.object({
  expires: z
    .string()
    .transform((s, ctx) => {
      const seconds = parseDuration(s);
      if (seconds === undefined) ctx.addIssue({ code: "custom", message: "must be a duration such as 30s, 15m, 2h or 7d" });
      else if (seconds < 1) ctx.addIssue({ code: "custom", message: "must be at least 1s" });
      else if (seconds > TOKEN_MAX_TTL_S) ctx.addIssue({ code: "custom", message: `must be at most ${formatDuration(TOKEN_MAX_TTL_S)}` });
      return seconds ?? 0;
    }),
  uses: z.coerce.number({ error: "must be a whole number from 1 to 100" }).int("must be a whole number from 1 to 100").min(1, "must be at least 1").max(100, "must be at most 100"),
  untrusted: z.boolean(),
  grant: z
    .array(z.string())
    .transform((list) => list.flatMap((g) => g.split(",")).map((g) => g.trim()).filter((g) => g !== ""))
    .pipe(z.array(FunctionNameSchema)),
  "van-address": HostPortSchema.optional(),
  site: z.string().optional(),
  token: z.string().optional(),
  json: z.boolean(),
});

export const create = defineCommand({
  meta: {
    name: "create",
    description: "Create a one-time token another site uses to link to this one (prints it to stdout).",
    examples: [
      "edgefn token create > a.token",
      "edgefn token create --expires 2h --untrusted --grant hello,api > c.token",
      "edgefn token create --van-address edge-a.example.com:5671 > a.token",
    ],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const target = resolveTarget(a);
    const trust = a.untrusted ? "untrusted" : "trusted";
    if (a.grant.length > 0 && !a.untrusted) {
      out.warn("--grant applies to untrusted sites only; a trusted site may serve any function.", "Add --untrusted to limit the site to the granted functions.");
    }
    const token = await createSiteClient(target).createToken({
      expiresInS: a.expires,
      uses: a.uses,
      trust,
      grants: a.grant,
      claimUrl: `${target.url}/v1/claims`,
      ...(a["van-address"] === undefined ? {} : { vanAddress: a["van-address"] }),
    });
    out.data(token);
    out.raw(`${JSON.stringify(token, null, 2)}\n`);
    printSummary(out, token, { trust, grants: a.grant, expiresInS: a.expires, uses: a.uses, stdoutIsTTY: process.stdout.isTTY === true });
  },
});

/** The human part, on stderr: stdout holds only the token. */
export function printSummary(
  out: Output,
  token: LinkToken,
  opts: { trust: "trusted" | "untrusted"; grants: string[]; expiresInS: number; uses: number; stdoutIsTTY: boolean },
): void {
  const dim = (t: string) => out.style("dim", t, "stderr");
  out.note(`${out.style("green", "✓", "stderr")} Created a link token to ${token.issuer} (network ${token.network})`);
  out.note(`  ${dim("issuer")}     ${token.issuer}, VAN ${token.van}`);
  out.note(`  ${dim("claim URL")}  ${token.claimUrl}`);
  out.note(`  ${dim("expires")}    ${token.expiresAt} (in ${formatDuration(opts.expiresInS)}); ${opts.uses === 1 ? "it works once" : `it works for ${opts.uses} sites`}`);
  const grants = opts.trust === "untrusted" ? `, may serve ${opts.grants.length === 0 ? "no functions" : opts.grants.join(", ")}` : "";
  out.note(`  ${dim("trust")}      the linking site joins as ${opts.trust}${grants}`);
  out.warn(
    `The token is a secret: whoever has it can link a site to ${token.issuer}'s network until it expires or is used.`,
    "Pass it on privately (not in chat or a ticket), and delete the file once it is used.",
  );
  if (opts.stdoutIsTTY) out.note(dim("To save it to a file, run the command again with `> a.token`."));
  out.note("Next, link the other site to this one with it:");
  out.note(`  edgefn link create a.token --site <other-site-control-url> --token <other-site-token> --cost 1`);
}

export default defineCommand({
  meta: {
    name: "token",
    description: "Create one-time tokens that link other sites to this site's network (VAN).",
    examples: ["edgefn token create > a.token"],
  },
  subCommands: { create: async () => create },
});
