/**
 * A site directory, as `edgefn site init` writes it and `edgefn site up` reads it:
 *
 *   site.json        {name, region, trust, createdAt} (SiteConfigSchema; no trust: trusted)
 *   control.token    32 random bytes, hex; the control API's bearer token (0600)
 *   keys/site.key    X25519 private key, PKCS#8 PEM (0600), for sealed secrets and links
 *   keys/site.pub    its public key, SPKI PEM
 *   state/           the runtime's durable state (it creates this itself)
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { SiteNameSchema } from "../runtime/network-api.ts";
import { TrustSchema, type Trust } from "../runtime/network-api.ts";
import { CliError } from "./errors.ts";
import { displayPath } from "./project.ts";

export const SITE_FILE = "site.json";
export const TOKEN_FILE = "control.token";
export const KEY_FILE = path.join("keys", "site.key");
export const PUBLIC_KEY_FILE = path.join("keys", "site.pub");

/** Site and region names end up in DNS names, labels and URLs: DNS-1123 labels both. */
export { SiteNameSchema };

export const SiteConfigSchema = z.object({
  name: SiteNameSchema,
  region: SiteNameSchema,
  /** What the site says it is when it joins a VAN (`site init --untrusted`); older files have none: trusted. */
  trust: TrustSchema.default("trusted"),
  createdAt: z.iso.datetime(),
});
export type SiteConfig = z.output<typeof SiteConfigSchema>;

export interface SiteDir {
  dir: string;
  config: SiteConfig;
  token: string;
  /** Absolute paths of the files that make the site. */
  files: { config: string; token: string; key: string; publicKey: string };
}

function filesOf(dir: string): SiteDir["files"] {
  return {
    config: path.join(dir, SITE_FILE),
    token: path.join(dir, TOKEN_FILE),
    key: path.join(dir, KEY_FILE),
    publicKey: path.join(dir, PUBLIC_KEY_FILE),
  };
}

/** Writes a new site into `dir`. Refuses a directory that is a site or not empty, unless `force`. */
export async function createSiteDir(
  dir: string,
  opts: { name: string; region: string; force: boolean; trust?: Trust; now?: Date },
): Promise<SiteDir> {
  const files = filesOf(dir);
  if (!opts.force && existsSync(dir) && (await readdir(dir)).length > 0) throw await occupiedError(dir, files.config);
  const config = SiteConfigSchema.parse({ name: opts.name, region: opts.region, trust: opts.trust ?? "trusted", createdAt: (opts.now ?? new Date()).toISOString() });
  const token = randomBytes(32).toString("hex");
  const { privateKey, publicKey } = generateKeyPairSync("x25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });

  await mkdir(path.dirname(files.key), { recursive: true, mode: 0o700 });
  await writeFile(files.config, `${JSON.stringify(config, null, 2)}\n`);
  await writeSecretFile(files.token, token);
  await writeSecretFile(files.key, privateKey);
  await writeFile(files.publicKey, publicKey);
  return { dir, config, token, files };
}

async function occupiedError(dir: string, configFile: string): Promise<CliError> {
  const hint = `Choose a new directory, or pass --force to write a new ${SITE_FILE}, token and key pair there (state/ is kept; the old token stops working).`;
  if (!existsSync(configFile)) return new CliError("ERR_DIR_NOT_EMPTY", `${displayPath(dir)} already exists and is not empty.`, { hint });
  const existing = await readConfig(configFile).catch(() => undefined);
  const what = existing ? `the site ${existing.name} (region ${existing.region})` : "a site";
  return new CliError("ERR_SITE_EXISTS", `${displayPath(dir)} is already ${what}.`, { hint });
}

/** `mode` in writeFile applies only to new files; with --force the old file keeps its own. */
async function writeSecretFile(file: string, content: string): Promise<void> {
  await writeFile(file, content, { mode: 0o600 });
  await chmod(file, 0o600);
}

/** Reads a site made by `createSiteDir`; anything missing or invalid names the file and the fix. */
export async function loadSiteDir(dir: string): Promise<SiteDir> {
  const files = filesOf(dir);
  const initHint = `Create a site there with \`edgefn site init ${displayPath(dir)} --name <site>\`.`;
  if (!existsSync(files.config)) {
    throw new CliError("ERR_NOT_A_SITE", `${displayPath(dir)} is not a site directory: it has no ${SITE_FILE}.`, { hint: initHint });
  }
  const config = await readConfig(files.config);
  const token = (await readFile(files.token, "utf8").catch(() => "")).trim();
  if (!/^[0-9a-f]{32,}$/i.test(token)) {
    throw new CliError("ERR_NOT_A_SITE", `${displayPath(files.token)} is missing or does not hold a control token.`, {
      hint: `Write a new token with \`edgefn site init ${displayPath(dir)} --name ${config.name} --force\` (then use the new one everywhere).`,
    });
  }
  return { dir, config, token, files };
}

async function readConfig(file: string): Promise<SiteConfig> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new CliError("ERR_NOT_A_SITE", `${displayPath(file)} is not valid JSON.`, {
      hint: `Fix it, or write a new one with \`edgefn site init ${displayPath(path.dirname(file))} --name <site> --force\`.`,
      cause: err,
    });
  }
  const parsed = SiteConfigSchema.safeParse(json);
  if (!parsed.success) {
    throw new CliError("ERR_NOT_A_SITE", `${displayPath(file)} is not a valid site file.`, {
      details: z.prettifyError(parsed.error),
      hint: `Fix it, or write a new one with \`edgefn site init ${displayPath(path.dirname(file))} --name <site> --force\`.`,
    });
  }
  return parsed.data;
}
