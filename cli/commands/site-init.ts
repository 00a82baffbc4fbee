/** `edgefn site init <dir>`: a new site directory (site.json, control token, key pair). */
import path from "node:path";
import { z } from "zod";
import { defineCommand, validateArgs } from "../command.ts";
import { CliError } from "../errors.ts";
import { createOutput } from "../output.ts";
import { displayPath } from "../project.ts";
import { createSiteDir, SiteNameSchema } from "../site-dir.ts";

const args = {
  dir: { type: "positional", required: true, description: "Directory to create for the site's state, token and keys" },
  name: { type: "string", valueHint: "site", description: "Site name, a DNS-1123 label (default: the directory's name)" },
  region: { type: "string", default: "local", valueHint: "region", description: "Region the site is in; functions see it as ctx.region" },
  untrusted: { type: "boolean", description: "Join VANs as an untrusted site: it serves only the functions a token grants it" },
  force: { type: "boolean", description: "Write a new site.json, token and keys into an existing directory" },
  json: { type: "boolean", description: "Print the result as JSON" },
} as const;

const ArgsSchema = z.object({
  dir: z.string().min(1),
  name: z.string().optional(),
  region: SiteNameSchema,
  untrusted: z.boolean(),
  force: z.boolean(),
  json: z.boolean(),
});

export default defineCommand({
  meta: {
    name: "init",
    description: "Create a site directory: site.json, a control token and the site's key pair.",
    examples: ["edgefn site init ./site-a --name edge-a --region eu-west", "edgefn site init ./site-c --name edge-c --untrusted"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const dir = path.resolve(a.dir);
    const name = checkSiteName(a.name ?? path.basename(dir), a.name !== undefined);
    const site = await createSiteDir(dir, { name, region: a.region, force: a.force, trust: a.untrusted ? "untrusted" : "trusted" });

    const { files } = site;
    const { region, trust } = site.config;
    out.data({ name, region, trust, dir, files });
    out.success(`Created site ${name} (region ${region}, ${trust}) in ${displayPath(dir)}`);
    const rows: [string, string][] = [
      [files.config, ""],
      [files.token, "the control token: whoever has it controls the site"],
      [files.key, "the site's private key"],
      [files.publicKey, ""],
    ];
    const width = Math.max(...rows.map(([f]) => displayPath(f).length));
    for (const [f, note] of rows) out.log(note === "" ? `  ${displayPath(f)}` : `  ${displayPath(f).padEnd(width)}  ${out.style("dim", note)}`);
    out.log();
    out.log("Next step: start it (in the foreground):");
    out.log(`  edgefn site up ${displayPath(dir)} --http 127.0.0.1:8080 --control 127.0.0.1:9080`);
  },
});

function checkSiteName(name: string, fromFlag: boolean): string {
  const result = SiteNameSchema.safeParse(name);
  if (result.success) return result.data;
  const source = fromFlag ? "--name" : "the directory's name";
  throw new CliError("ERR_INVALID_NAME", `"${name}" (${source}) is not a valid site name: it ${result.error.issues[0]!.message}.`, {
    hint: "Site names appear in URLs and DNS names. Pass --name with lower-case letters, digits and '-', e.g. --name edge-a.",
  });
}
