/**
 * `edgefn link create|ls|rm`: links between this site and others in its VAN. `create` redeems
 * a token from `edgefn token create` (checked here first: a bad or expired token never leaves
 * this machine), then the site dials the token's issuer.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { LinkTokenSchema, SiteNameSchema, type LinkInfo, type LinkToken } from "../../runtime/network-api.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { CliError } from "../errors.ts";
import { createOutput } from "../output.ts";
import { displayPath } from "../project.ts";
import { createSiteClient } from "../site-client.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";

const NEW_TOKEN = "Ask the issuing site's operator for a new one: `edgefn token create > a.token` against that site.";

/** Reads and checks a token file: names the file and the field that is wrong, refuses an expired token. */
export async function readTokenFile(file: string, now: Date = new Date()): Promise<LinkToken> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const missing = (err as { code?: unknown }).code === "ENOENT";
    throw new CliError("ERR_FILE_NOT_FOUND", `Could not read the token file ${displayPath(file)}: ${missing ? "it does not exist" : (err as Error).message}.`, {
      hint: "Pass the file `edgefn token create > <file>` wrote on the issuing site.",
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CliError("ERR_TOKEN_INVALID", `${displayPath(file)} is not a link token: it is not JSON.`, {
      hint: `It should hold exactly what \`edgefn token create\` printed. ${NEW_TOKEN}`,
      cause: err,
    });
  }
  const parsed = LinkTokenSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length === 0 ? "(the whole file)" : issue.path.join(".");
    throw new CliError("ERR_TOKEN_INVALID", `${displayPath(file)} is not a valid link token: ${field}: ${issue.message}.`, {
      details: z.prettifyError(parsed.error),
      hint: `Was it edited or cut short? ${NEW_TOKEN}`,
    });
  }
  const token = parsed.data;
  if (Date.parse(token.expiresAt) <= now.getTime()) {
    throw new CliError("ERR_TOKEN_EXPIRED", `The link token in ${displayPath(file)} (from ${token.issuer}) expired at ${token.expiresAt}.`, {
      hint: `${NEW_TOKEN} Pass --expires for a longer one, e.g. --expires 2h.`,
    });
  }
  return token;
}

/** One aligned row per link, with a header. */
export function formatLinkTable(links: LinkInfo[]): string[] {
  const rows = [
    ["PEER", "ADDRESS", "COST", "STATE", "TRUST", "ERROR"],
    ...links.map((l) => [l.peer, l.address ?? "(inbound)", String(l.cost), l.state, l.trust ?? "-", l.error ?? ""]),
  ];
  return alignRows(rows);
}

export function alignRows(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
}

const createArgs = {
  "token-file": { type: "positional", required: true, description: "The file `edgefn token create` wrote on the other site" },
  cost: { type: "string", default: "1", valueHint: "n", description: "Cost of the link; calls take the cheapest path to a site that serves them" },
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print the link as JSON" },
} as const;

const CreateArgsSchema = z.object({
  "token-file": z.string().min(1),
  cost: z.coerce.number<string>({ error: "must be a number, e.g. 1 or 2.5" }).positive().max(1_000_000),
  site: z.string().optional(),
  token: z.string().optional(),
  json: z.boolean(),
});

const create = defineCommand({
  meta: {
    name: "create",
    description: "Link this site to another with a token from it (`edgefn token create`).",
    examples: ["edgefn link create a.token --cost 1", "edgefn link create a.token --site http://127.0.0.1:9081 --token $(cat site-b/control.token)"],
  },
  args: createArgs,
  async run(ctx) {
    const a = validateArgs(ctx, createArgs, CreateArgsSchema);
    const out = createOutput({ json: a.json });
    const token = await readTokenFile(a["token-file"]);
    const target = resolveTarget(a);
    const link = await out.task(
      `Linking to ${token.issuer} (${token.van})`,
      () => createSiteClient(target).createLink({ token, cost: a.cost }),
      (l) => `Linked to ${l.peer}: ${l.state}`,
    );
    out.data({ link });
    for (const line of formatLinkTable([link])) out.log(`  ${line}`);
    if (link.state === "down") {
      out.warn(`The link to ${link.peer} is down${link.error ? `: ${link.error}` : ""}.`, `The site keeps redialling ${link.address ?? link.peer}; check that it is reachable, then \`edgefn link ls\`.`);
    } else {
      out.log();
      out.log("See the network from this site with `edgefn status`.");
    }
  },
});

const listArgs = { ...TARGET_ARGS, json: { type: "boolean", description: "Print the links as a JSON array" } } as const;
const ListArgsSchema = z.object({ site: z.string().optional(), token: z.string().optional(), json: z.boolean() });

const ls = defineCommand({
  meta: { name: "ls", description: "List this site's links: peer, address, cost, state.", examples: ["edgefn link ls"] },
  args: listArgs,
  async run(ctx) {
    const a = validateArgs(ctx, listArgs, ListArgsSchema);
    const out = createOutput({ json: a.json });
    const links = await createSiteClient(resolveTarget(a)).listLinks();
    out.data(links);
    if (links.length === 0) {
      out.log("This site has no links. Link it to another with `edgefn link create <token-file>` (the other site's `edgefn token create` makes one).");
      return;
    }
    const [head, ...rows] = formatLinkTable(links);
    out.log(out.style("dim", head!));
    for (const row of rows) out.log(row);
  },
});

const rmArgs = {
  peer: { type: "positional", required: true, description: "The site at the other end of the link" },
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print the result as JSON" },
} as const;
const RmArgsSchema = z.object({ peer: SiteNameSchema, site: z.string().optional(), token: z.string().optional(), json: z.boolean() });

const rm = defineCommand({
  meta: { name: "rm", description: "Remove the link to another site.", examples: ["edgefn link rm edge-b"] },
  args: rmArgs,
  async run(ctx) {
    const a = validateArgs(ctx, rmArgs, RmArgsSchema);
    const out = createOutput({ json: a.json });
    await createSiteClient(resolveTarget(a)).removeLink(a.peer);
    out.data({ removed: a.peer });
    out.success(`Removed the link to ${a.peer}`);
  },
});

export default defineCommand({
  meta: {
    name: "link",
    description: "Link this site to other sites of a VAN, list and remove links.",
    examples: ["edgefn link create a.token --cost 1", "edgefn link ls", "edgefn link rm edge-b"],
  },
  subCommands: { create: async () => create, ls: async () => ls, rm: async () => rm },
});
