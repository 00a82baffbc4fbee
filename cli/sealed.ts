/**
 * Sealed secrets: a secret's value encrypted to one site's public key (keys/site.pub), so it
 * can be committed to the repository a site pulls its functions from (GitOps). Only the site
 * holding keys/site.key opens it. Repository layout: `sites/<site>/secrets/<fn>.<SECRET>.sealed.json`.
 *
 * The scheme is ECIES over X25519: an ephemeral key pair per seal, the shared secret through
 * HKDF-SHA256 (salt: ephemeral public key || recipient public key) to an AES-256-GCM key. The
 * site, function, secret name and key id are the additional data, so editing any of them in
 * the JSON (to move a value to another function, say) makes it fail to open.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from "node:crypto";
import { z } from "zod";
import { FunctionNameSchema, SecretNameSchema } from "../runtime/manifest.ts";
import { SiteNameSchema } from "../runtime/network-api.ts";

export const SEALED_API_VERSION = "edgefn.dev/v1alpha1";
export const SEALED_ALGORITHM = "X25519-HKDF-SHA256-A256GCM";
const HKDF_INFO = "edgefn sealed secret v1";
const AAD_PREFIX = "edgefn/sealed-secret/v1";
/** The control API takes secrets up to 64 KiB (runtime/control.ts); a sealed one is no bigger. */
export const MAX_SEALED_VALUE_BYTES = 64 * 1024;
const TAG_BYTES = 16;

export type SealedSecretErrorCode =
  | "ERR_SEALED_INVALID" // user: the file is not a sealed secret (JSON shape, unknown fields, bad base64)
  | "ERR_SEALED_OTHER_SITE" // user: the file is sealed for another site than the one opening it
  | "ERR_SEALED_OTHER_KEY" // user: sealed to an older (or another) key of this site: re-seal
  | "ERR_SEALED_OPEN_FAILED" // user: does not decrypt: edited, or moved to another function or name
  | "ERR_SEALED_KEY_INVALID" // user: a key given to seal or open with is not an X25519 PEM key
  | "ERR_SEALED_NO_KEY"; // user: the site has no public key to seal to (no keys/site.pub)

/** Renders like a CliError (string `code`, `hint`, `details`): cli/output.ts duck-types it. */
export class SealedSecretError extends Error {
  readonly code: SealedSecretErrorCode;
  readonly hint: string | undefined;
  readonly details: string | undefined;
  /** The sealed file concerned, when the caller named one. */
  readonly file: string | undefined;

  constructor(code: SealedSecretErrorCode, message: string, opts: { hint?: string; details?: string; file?: string | undefined; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "SealedSecretError";
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
    this.file = opts.file;
  }

  toJSON(): { code: string; message: string; hint?: string; details?: string; file?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
      ...(this.file === undefined ? {} : { file: this.file }),
    };
  }
}

/** Standard base64 whose decoded length is within [min, max] bytes. */
const base64Bytes = (min: number, max: number, what: string) =>
  z
    .base64()
    .refine((s) => {
      const n = Buffer.from(s, "base64").length;
      return n >= min && n <= max;
    }, min === max ? `must be ${what}: ${min} bytes, base64` : `must be ${what}: ${min} to ${max} bytes, base64`);

export const SealedSecretSchema = z
  .object({
    apiVersion: z.literal(SEALED_API_VERSION),
    kind: z.literal("SealedSecret"),
    /** The only site that can open it. */
    site: SiteNameSchema,
    function: FunctionNameSchema,
    /** The function reads it as env.<name>. */
    name: SecretNameSchema,
    /** `sha256:<hex>` of the recipient's SPKI DER: which of the site's keys it was sealed to. */
    keyId: z.string().regex(/^sha256:[0-9a-f]{64}$/, "must be sha256:<64 hex digits>"),
    algorithm: z.literal(SEALED_ALGORITHM),
    /** The ephemeral X25519 public key, raw. */
    epk: base64Bytes(32, 32, "an X25519 public key"),
    iv: base64Bytes(12, 12, "an AES-GCM nonce"),
    /** AES-256-GCM output with its 16-byte tag appended. */
    ciphertext: base64Bytes(TAG_BYTES, MAX_SEALED_VALUE_BYTES + TAG_BYTES, "AES-GCM ciphertext and tag"),
  })
  .strict();
export type SealedSecret = z.output<typeof SealedSecretSchema>;

/** `sites/<site>/secrets`: where a repository keeps the sealed files of one site. */
export function sealedDir(site: string): string {
  return `sites/${site}/secrets`;
}

/** `<fn>.<SECRET>.sealed.json` */
export function sealedFileName(fn: string, name: string): string {
  return `${fn}.${name}.sealed.json`;
}

/** `sha256:<hex>` of the key's SPKI DER; the same for any PEM spelling of one key. */
export function keyIdOf(publicKeyPem: string): string {
  return keyIdOfKey(parsePublicKey(publicKeyPem));
}

export interface SealOptions {
  /** The recipient site's keys/site.pub (SPKI PEM). */
  publicKeyPem: string;
  site: string;
  fn: string;
  name: string;
  value: Uint8Array;
  /** Where the key came from, starting a sentence in error messages (a file, "Site edge-1's sealKey"); default "The public key". */
  keyFrom?: string;
}

/** Encrypts `value` to the site's public key; the result is what gets committed. */
export function sealSecret(opts: SealOptions): SealedSecret {
  const recipient = parsePublicKey(opts.publicKeyPem, opts.keyFrom);
  const names = z.object({ site: SiteNameSchema, fn: FunctionNameSchema, name: SecretNameSchema }).safeParse(opts);
  if (!names.success) {
    throw new SealedSecretError("ERR_SEALED_INVALID", `Cannot seal ${opts.name} of ${opts.fn} for site ${opts.site}: a name is invalid.`, {
      details: z.prettifyError(names.error),
      hint: "Use the function's metadata.name, the site's name and an environment variable name for the secret.",
    });
  }
  if (opts.value.length > MAX_SEALED_VALUE_BYTES) {
    throw new SealedSecretError("ERR_SEALED_INVALID", `The value of ${opts.name} is ${opts.value.length} bytes; a site takes secrets up to ${MAX_SEALED_VALUE_BYTES} bytes.`, {
      hint: "Keep large data out of secrets: put a key or URL in the secret and fetch the data with it.",
    });
  }
  const keyId = keyIdOfKey(recipient);
  const ephemeral = generateKeyPairSync("x25519");
  const epk = rawPublicKey(ephemeral.publicKey);
  const key = deriveKey(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient }), epk, rawPublicKey(recipient));
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aadOf(opts.site, opts.fn, opts.name, keyId));
  const ciphertext = Buffer.concat([cipher.update(opts.value), cipher.final(), cipher.getAuthTag()]);
  return {
    apiVersion: SEALED_API_VERSION,
    kind: "SealedSecret",
    site: opts.site,
    function: opts.fn,
    name: opts.name,
    keyId,
    algorithm: SEALED_ALGORITHM,
    epk: epk.toString("base64"),
    iv: iv.toString("base64"),
    ciphertext: ciphertext.toString("base64"),
  };
}

export interface OpenOptions {
  /** The opening site's keys/site.key (PKCS#8 PEM). */
  privateKeyPem: string;
  /** The opening site's name: a file sealed for another site is refused. */
  site: string;
  /** The sealed file's path, named in errors. */
  file?: string;
}

/** Validates and decrypts a sealed file's JSON; each way it can fail is a SealedSecretError. */
export function openSealed(json: unknown, opts: OpenOptions): { fn: string; name: string; value: string } {
  const { site, file } = opts;
  const label = file ?? "The sealed secret";
  const parsed = SealedSecretSchema.safeParse(json);
  if (!parsed.success) {
    throw new SealedSecretError("ERR_SEALED_INVALID", `${label} is not a valid sealed secret.`, {
      file,
      details: z.prettifyError(parsed.error),
      hint: "Sealed files are written by `edgefn secret seal`, not by hand: seal the value again and commit the new file.",
    });
  }
  const s = parsed.data;
  const reseal = `edgefn secret seal ${s.function} ${s.name} --site <${site}'s control URL or directory> --out ${sealedDir(site)}/${sealedFileName(s.function, s.name)} < value.txt`;
  if (s.site !== site) {
    throw new SealedSecretError("ERR_SEALED_OTHER_SITE", `${label} is sealed for site ${s.site}, not ${site}: only ${s.site} can open it.`, {
      file,
      hint: `Keep ${site}'s sealed files under ${sealedDir(site)}/, each sealed for ${site}: \`${reseal}\`.`,
    });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(opts.privateKeyPem);
  } catch (err) {
    throw keyError(`Site ${site}'s private key (keys/site.key) is not a PEM private key.`, "private", err);
  }
  if (privateKey.asymmetricKeyType !== "x25519") {
    throw keyError(`Site ${site}'s private key (keys/site.key) is not an X25519 key (it is ${privateKey.asymmetricKeyType ?? "of an unknown type"}).`, "private");
  }
  const ownPublic = createPublicKey(privateKey);
  const ownKeyId = keyIdOfKey(ownPublic);
  if (s.keyId !== ownKeyId) {
    throw new SealedSecretError("ERR_SEALED_OTHER_KEY", `${label} is sealed to another key of ${site} (${short(s.keyId)}; its keys/site.pub is ${short(ownKeyId)}).`, {
      file,
      hint: `Re-seal it with the site's current keys/site.pub (a new key pair comes with \`edgefn site init --force\`): \`${reseal}\`.`,
    });
  }
  try {
    const epk = Buffer.from(s.epk, "base64");
    const ephemeral = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: epk.toString("base64url") }, format: "jwk" });
    const key = deriveKey(diffieHellman({ privateKey, publicKey: ephemeral }), epk, rawPublicKey(ownPublic));
    const sealed = Buffer.from(s.ciphertext, "base64");
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(s.iv, "base64"));
    decipher.setAAD(aadOf(s.site, s.function, s.name, s.keyId));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const value = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
    // As the control API decodes `secret put` bodies: values are env strings.
    return { fn: s.function, name: s.name, value: new TextDecoder().decode(value) };
  } catch (err) {
    throw new SealedSecretError(
      "ERR_SEALED_OPEN_FAILED",
      `${label} (${s.name} of ${s.function}) does not open with ${site}'s key: it was edited, or moved from another site, function or secret name.`,
      { file, hint: `Sealed files cannot be edited or renamed by hand: seal the value again and commit the new file: \`${reseal}\`.`, cause: err },
    );
  }
}

function parsePublicKey(pem: string, from = "The public key"): KeyObject {
  // createPublicKey would derive the public key from a private one; refuse it so private keys stay put.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw keyError(`${from} is a private key, not a public key.`, "public");
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw keyError(`${from} is not a PEM public key.`, "public", err);
  }
  if (key.asymmetricKeyType !== "x25519") {
    throw keyError(`${from} is not an X25519 key (it is ${key.asymmetricKeyType ?? "of an unknown type"}).`, "public");
  }
  return key;
}

function keyError(message: string, which: "public" | "private", cause?: unknown): SealedSecretError {
  const hint =
    which === "public"
      ? "Seal to the site's keys/site.pub, the X25519 key `edgefn site init` writes (or pass --site and edgefn fetches it)."
      : "keys/site.key must be the X25519 key `edgefn site init` wrote; write a new pair with `edgefn site init <dir> --name <site> --force`, then re-seal.";
  return new SealedSecretError("ERR_SEALED_KEY_INVALID", message, { hint, cause });
}

function keyIdOfKey(key: KeyObject): string {
  return `sha256:${createHash("sha256").update(key.export({ type: "spki", format: "der" })).digest("hex")}`;
}

function rawPublicKey(key: KeyObject): Buffer {
  const { x } = key.export({ format: "jwk" });
  return Buffer.from(x!, "base64url");
}

function deriveKey(shared: Buffer, epk: Buffer, recipient: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", shared, Buffer.concat([epk, recipient]), HKDF_INFO, 32));
}

function aadOf(site: string, fn: string, name: string, keyId: string): Buffer {
  return Buffer.from(`${AAD_PREFIX}\n${site}\n${fn}\n${name}\n${keyId}`);
}

/** `sha256:0a1b2c3d4e5f…`: enough to tell two keys apart in a message. */
function short(keyId: string): string {
  return `${keyId.slice(0, 19)}…`;
}
