/**
 * `edgefn secret put|rm <name> <SECRET>`: set or remove a secret the function reads as
 * `env.<SECRET>`. `edgefn secret seal` encrypts one to a site's public key instead, for a
 * repository the site pulls from (GitOps). The value comes from stdin only (never argv, which
 * `ps` and shell history show) and is never printed.
 */
import { existsSync, statSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { FunctionNameSchema, SecretNameSchema } from "../../runtime/manifest.ts";
import { SiteNameSchema } from "../../runtime/network-api.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { CliError, UsageError } from "../errors.ts";
import { createOutput } from "../output.ts";
import { displayPath } from "../project.ts";
import { sealedDir, sealedFileName, sealSecret, SealedSecretError } from "../sealed.ts";
import { createSiteClient } from "../site-client.ts";
import { PUBLIC_KEY_FILE, SITE_FILE, SiteConfigSchema } from "../site-dir.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";

const args = {
  name: { type: "positional", required: true, description: "Function the secret belongs to (metadata.name)" },
  secret: { type: "positional", required: true, description: "Secret name; the function reads it as env.<SECRET>" },
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print the result as JSON" },
} as const;

const ArgsSchema = z.object({
  name: FunctionNameSchema,
  secret: SecretNameSchema,
  site: z.string().optional(),
  token: z.string().optional(),
  json: z.boolean(),
});

const put = defineCommand({
  meta: {
    name: "put",
    description: "Set a function's secret from stdin (one trailing newline is dropped).",
    examples: ["edgefn secret put hello API_KEY < key.txt", "printf %s \"$API_KEY\" | edgefn secret put hello API_KEY"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const client = createSiteClient(resolveTarget(a));
    const value = await readSecretValue(process.stdin, a.secret);
    await client.putSecret(a.name, a.secret, value);
    out.data({ function: a.name, secret: a.secret });
    out.success(`Set ${a.secret} for ${a.name}`);
  },
});

const rm = defineCommand({
  meta: {
    name: "rm",
    description: "Remove a function's secret.",
    examples: ["edgefn secret rm hello API_KEY"],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const client = createSiteClient(resolveTarget(a));
    await client.removeSecret(a.name, a.secret);
    out.data({ function: a.name, secret: a.secret, removed: true });
    out.success(`Removed ${a.secret} from ${a.name}`);
  },
});

const sealArgs = {
  name: args.name,
  secret: args.secret,
  site: { type: "string", valueHint: "dir|url", description: "Site to seal for: its directory (reads keys/site.pub) or control API (default: $EDGEFN_SITE)" },
  token: TARGET_ARGS.token,
  key: { type: "string", valueHint: "file", description: "Seal offline to this public key (a site's keys/site.pub); needs --for" },
  for: { type: "string", valueHint: "site", description: "Name of the site --key belongs to" },
  out: { type: "string", valueHint: "file", description: "Write the sealed file here, creating folders (default: stdout)" },
  json: args.json,
} as const;

const SealArgsSchema = z.object({
  name: FunctionNameSchema,
  secret: SecretNameSchema,
  site: z.string().optional(),
  token: z.string().optional(),
  key: z.string().min(1).optional(),
  for: SiteNameSchema.optional(),
  out: z.string().min(1).optional(),
  json: z.boolean(),
});

const seal = defineCommand({
  meta: {
    name: "seal",
    description: "Encrypt a secret from stdin to one site's public key, for committing to git (GitOps).",
    examples: [
      "edgefn secret seal hello API_KEY --site ./site-a --out sites/edge-a/secrets/hello.API_KEY.sealed.json < key.txt",
      "printf %s \"$API_KEY\" | edgefn secret seal hello API_KEY --site http://10.0.0.5:9080 --out sites/edge-1/secrets/hello.API_KEY.sealed.json",
      "edgefn secret seal hello API_KEY --key sites/edge-1/site.pub --for edge-1 < key.txt > hello.API_KEY.sealed.json",
    ],
  },
  args: sealArgs,
  async run(ctx) {
    const a = validateArgs(ctx, sealArgs, SealArgsSchema);
    const out = createOutput({ json: a.json });
    const recipient = await sealRecipient(a, ctx.usage);
    const value = await readSecretValue(process.stdin, a.secret, "seal");
    const sealed = sealSecret({ publicKeyPem: recipient.publicKeyPem, site: recipient.site, fn: a.name, name: a.secret, value, keyFrom: recipient.from });
    const text = `${JSON.stringify(sealed, null, 2)}\n`;
    const conventional = `${sealedDir(sealed.site)}/${sealedFileName(sealed.function, sealed.name)}`;
    const facts = { site: sealed.site, function: sealed.function, secret: sealed.name, keyId: sealed.keyId };
    const done = `${out.style("green", "✓", "stderr")} Sealed ${sealed.name} of ${sealed.function} for site ${sealed.site}`;

    if (a.out === undefined) {
      out.raw(text);
      out.data({ ...facts, sealed });
      out.note(`${done} → stdout; commit it as ${conventional}`);
      return;
    }
    await mkdir(path.dirname(path.resolve(a.out)), { recursive: true });
    await writeFile(a.out, text);
    out.data({ ...facts, file: a.out });
    const file = displayPath(path.resolve(a.out));
    const where = a.out.split(path.sep).join("/").endsWith(conventional) ? "(commit it)" : `(commit it as ${conventional}, where the site looks for it)`;
    out.note(`${done} → ${file} ${where}`);
  },
});

/** Where the public key comes from: `--key` + `--for`, a site directory, or the site's control API. */
async function sealRecipient(
  a: z.output<typeof SealArgsSchema>,
  usage: string,
): Promise<{ site: string; publicKeyPem: string; from: string }> {
  if (a.key !== undefined) {
    if (a.for === undefined) {
      throw new UsageError("--key needs --for: the name of the site the key belongs to (it is sealed into the file).", {
        usage,
        hint: `Add --for <site>, e.g. \`edgefn secret seal ${a.name} ${a.secret} --key ${a.key} --for edge-1\`.`,
      });
    }
    if (a.site !== undefined) throw new UsageError("Pass either --site or --key, not both.", { usage });
    return { site: a.for, publicKeyPem: await readKeyFile(a.key), from: displayPath(path.resolve(a.key)) };
  }
  if (a.for !== undefined) {
    throw new UsageError("--for goes with --key: with --site, the site names itself.", {
      usage,
      hint: `Drop --for, or seal offline with \`--key <site.pub> --for ${a.for}\`.`,
    });
  }
  if (a.site !== undefined && isDirectory(a.site)) return sealKeyOfSiteDir(a.site);
  if (a.site !== undefined && /^(\.{1,2}|~)?[\\/]|^\.{1,2}$/.test(a.site)) {
    throw new CliError("ERR_NOT_A_SITE", `${a.site} is not a directory.`, {
      hint: "Pass a site directory (`edgefn site init` makes one), a site's control URL, or --key <site.pub> --for <site>.",
    });
  }
  if (a.site === undefined && !process.env["EDGEFN_SITE"]?.trim()) {
    throw new CliError("ERR_NO_SITE", "No site given: edgefn does not know whose public key to seal to.", {
      hint: "Pass --site <site-dir> or --site <control URL> (or set EDGEFN_SITE), or seal offline with --key <site.pub> --for <site>.",
    });
  }
  const client = createSiteClient(resolveTarget(a));
  const info = await client.site();
  const site = SiteNameSchema.safeParse(info.name);
  if (!site.success) {
    throw new CliError("ERR_SITE_RESPONSE", `The site at ${client.target.url} calls itself "${info.name}", which is not a site name.`, {
      hint: "Check that the site runs the same edgefn version as this cli.",
    });
  }
  if (info.sealKey === undefined) {
    throw new SealedSecretError("ERR_SEALED_NO_KEY", `Site ${site.data} (${client.target.url}) has no public key to seal to: its directory has no ${PUBLIC_KEY_FILE}.`, {
      hint: `Seal offline with its public key file: \`--key <site.pub> --for ${site.data}\`, or give the site a key pair with \`edgefn site init <dir> --name ${site.data} --force\` (this also replaces its control token).`,
    });
  }
  return { site: site.data, publicKeyPem: info.sealKey, from: `Site ${site.data}'s public key` };
}

/** Only site.json and keys/site.pub: sealing needs neither the token nor the private key. */
async function sealKeyOfSiteDir(dir: string): Promise<{ site: string; publicKeyPem: string; from: string }> {
  const configFile = path.join(dir, SITE_FILE);
  const initHint = `Create a site there with \`edgefn site init ${displayPath(path.resolve(dir))} --name <site>\`, or pass the site's control URL.`;
  if (!existsSync(configFile)) {
    throw new CliError("ERR_NOT_A_SITE", `${displayPath(path.resolve(dir))} is not a site directory: it has no ${SITE_FILE}.`, { hint: initHint });
  }
  let name: string;
  try {
    name = SiteConfigSchema.parse(JSON.parse(await readFile(configFile, "utf8"))).name;
  } catch (err) {
    throw new CliError("ERR_NOT_A_SITE", `${displayPath(path.resolve(configFile))} is not a valid site file.`, {
      details: err instanceof z.ZodError ? z.prettifyError(err) : undefined,
      hint: initHint,
      cause: err,
    });
  }
  const keyFile = path.join(dir, PUBLIC_KEY_FILE);
  if (!existsSync(keyFile)) {
    throw new SealedSecretError("ERR_SEALED_NO_KEY", `Site ${name} has no public key to seal to: ${displayPath(path.resolve(keyFile))} does not exist.`, {
      hint: `Write a key pair with \`edgefn site init ${displayPath(path.resolve(dir))} --name ${name} --force\` (this also replaces the control token), or seal with --key <site.pub> --for ${name}.`,
    });
  }
  return { site: name, publicKeyPem: await readFile(keyFile, "utf8"), from: displayPath(path.resolve(keyFile)) };
}

async function readKeyFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new CliError("ERR_FILE_NOT_FOUND", `Cannot read the public key ${displayPath(path.resolve(file))}: ${(err as NodeJS.ErrnoException).code ?? String(err)}.`, {
      hint: "Pass the site's keys/site.pub (or the copy committed to the repository, e.g. sites/<site>/site.pub).",
      cause: err,
    });
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export default defineCommand({
  meta: {
    name: "secret",
    description: "Set, remove and seal secrets of a function (seal: encrypt one to a site's key, for git).",
    examples: [
      "edgefn secret put hello API_KEY < key.txt",
      "edgefn secret rm hello API_KEY",
      "edgefn secret seal hello API_KEY --site ./site-a --out sites/edge-a/secrets/hello.API_KEY.sealed.json < key.txt",
    ],
  },
  subCommands: { put: async () => put, rm: async () => rm, seal: async () => seal },
});

/**
 * All of stdin, minus one trailing newline (`echo` and editors add one; a second one is kept,
 * as part of the value). A terminal on stdin is refused: the value would echo on screen.
 */
export async function readSecretValue(
  stdin: NodeJS.ReadableStream & { isTTY?: boolean },
  secret: string,
  verb: "put" | "seal" = "put",
): Promise<Uint8Array> {
  if (stdin.isTTY) {
    throw new CliError("ERR_STDIN_TTY", `edgefn reads the value of ${secret} from stdin, and stdin is a terminal.`, {
      hint: `Pipe the value in or redirect a file, so it never shows on screen: \`edgefn secret ${verb} <name> ${secret} < file\`.`,
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  let value = Buffer.concat(chunks);
  if (value.at(-1) === 0x0a) value = value.subarray(0, value.at(-2) === 0x0d ? -2 : -1);
  if (value.length === 0) {
    throw new CliError("ERR_SECRET_EMPTY", `stdin was empty, so there is no value for ${secret}.`, {
      hint: `Pipe the value in or redirect a file: \`edgefn secret ${verb} <name> ${secret} < file\`.${verb === "put" ? " To remove a secret, use `edgefn secret rm`." : ""}`,
    });
  }
  return new Uint8Array(value);
}
