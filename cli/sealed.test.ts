import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { renderError } from "./output.ts";
import { keyIdOf, openSealed, sealedDir, sealedFileName, sealSecret, SealedSecretSchema, type SealedSecret } from "./sealed.ts";

function siteKeys() {
  return generateKeyPairSync("x25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
}

const EDGE_1 = siteKeys();
const EDGE_2 = siteKeys();
const FILE = "sites/edge-1/secrets/hello.API_KEY.sealed.json";
const bytes = (s: string) => new TextEncoder().encode(s);

function seal(value = "s3cret", over: Partial<Parameters<typeof sealSecret>[0]> = {}): SealedSecret {
  return sealSecret({ publicKeyPem: EDGE_1.publicKey, site: "edge-1", fn: "hello", name: "API_KEY", value: bytes(value), ...over });
}

const open = (json: unknown, keys = EDGE_1, site = "edge-1") => openSealed(json, { privateKeyPem: keys.privateKey, site, file: FILE });

function failure(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure");
}

describe("sealSecret / openSealed", () => {
  it("roundtrips: the site opens what was sealed to its public key", () => {
    const sealed = seal();
    expect(sealed).toMatchObject({
      apiVersion: "edgefn.dev/v1alpha1",
      kind: "SealedSecret",
      site: "edge-1",
      function: "hello",
      name: "API_KEY",
      keyId: keyIdOf(EDGE_1.publicKey),
      algorithm: "X25519-HKDF-SHA256-A256GCM",
    });
    expect(Buffer.from(sealed.epk, "base64")).toHaveLength(32);
    expect(Buffer.from(sealed.iv, "base64")).toHaveLength(12);
    expect(Buffer.from(sealed.ciphertext, "base64")).toHaveLength("s3cret".length + 16);
    expect(SealedSecretSchema.parse(sealed)).toEqual(sealed);
    // Through JSON, as a committed file is read back.
    expect(open(JSON.parse(JSON.stringify(sealed)))).toEqual({ fn: "hello", name: "API_KEY", value: "s3cret" });
  });

  it("never writes the value, and seals the same value differently each time (fresh ephemeral key and nonce)", () => {
    const a = seal("s3cret");
    const b = seal("s3cret");
    expect(JSON.stringify(a)).not.toContain("s3cret");
    expect(JSON.stringify(a)).not.toContain(Buffer.from("s3cret").toString("base64"));
    expect(a.epk).not.toBe(b.epk);
    expect(a.ciphertext).not.toBe(b.ciphertext);
  });

  it.each([
    ["newlines", "line 1\nline 2\r\n\n"],
    ["a PEM key", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEIA==\n-----END PRIVATE KEY-----\n"],
    ["control characters and NUL", "a\u0000b\u0007c\u001b[0m\t"],
    ["non-ASCII UTF-8", "pässwörd 🔑 密码 \u{10FFFF}"],
    ["a single byte", "x"],
  ])("values survive: %s", (_what, value) => {
    expect(open(seal(value)).value).toBe(value);
  });

  it("keyIdOf: sha256 of the SPKI DER, the same for any PEM spelling of the key", () => {
    const der = createPublicKey(EDGE_1.publicKey).export({ type: "spki", format: "der" });
    const crlf = EDGE_1.publicKey.replaceAll("\n", "\r\n");
    expect(keyIdOf(EDGE_1.publicKey)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(keyIdOf(crlf)).toBe(keyIdOf(EDGE_1.publicKey));
    expect(keyIdOf(EDGE_1.publicKey)).not.toBe(keyIdOf(EDGE_2.publicKey));
    expect(der).toHaveLength(44);
  });

  it("another site's key cannot open it, even when the file claims that site", () => {
    const sealed = seal();
    // Sealed for edge-1, opened by edge-2: refused by name first.
    expect(failure(() => open(sealed, EDGE_2, "edge-2"))).toMatchObject({ code: "ERR_SEALED_OTHER_SITE", file: FILE });
    // Renamed to edge-2 in the JSON: edge-2's key is not the one it was sealed to.
    expect(failure(() => open({ ...sealed, site: "edge-2" }, EDGE_2, "edge-2"))).toMatchObject({ code: "ERR_SEALED_OTHER_KEY" });
    // Renamed and re-keyed: the key id is edge-2's, but the ciphertext is still edge-1's.
    const forged = { ...sealed, site: "edge-2", keyId: keyIdOf(EDGE_2.publicKey) };
    expect(failure(() => open(forged, EDGE_2, "edge-2"))).toMatchObject({ code: "ERR_SEALED_OPEN_FAILED" });
  });

  it.each([
    ["site", { site: "edge-2" }, "ERR_SEALED_OTHER_SITE"],
    ["function", { function: "other-fn" }, "ERR_SEALED_OPEN_FAILED"],
    ["secret name", { name: "DB_PASSWORD" }, "ERR_SEALED_OPEN_FAILED"],
    ["keyId", { keyId: keyIdOf(EDGE_2.publicKey) }, "ERR_SEALED_OTHER_KEY"],
    ["ciphertext", { ciphertext: "flipped" }, "ERR_SEALED_OPEN_FAILED"],
    ["iv", { iv: Buffer.alloc(12).toString("base64") }, "ERR_SEALED_OPEN_FAILED"],
    ["epk", { epk: Buffer.from(generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }).x!, "base64url").toString("base64") }, "ERR_SEALED_OPEN_FAILED"],
  ] as const)("editing %s in the JSON makes it fail: %s", (_field, edit, code) => {
    const sealed: Record<string, string> = { ...seal() };
    const patch: Record<string, string> = { ...edit };
    if (patch["ciphertext"] === "flipped") {
      const c = Buffer.from(sealed["ciphertext"]!, "base64");
      c[0]! ^= 1;
      patch["ciphertext"] = c.toString("base64");
    }
    expect(failure(() => open({ ...sealed, ...patch }))).toMatchObject({ code, file: FILE });
  });

  it("errors say what happened to which file, and what to do", () => {
    const sealed = seal();
    const lines = (err: unknown) => renderError(err).join("\n").replace(/sha256:[0-9a-f]{12}/g, "sha256:<id>");
    expect(lines(failure(() => open({ ...sealed, name: "OTHER" })))).toMatchInlineSnapshot(`
      "error: sites/edge-1/secrets/hello.API_KEY.sealed.json (OTHER of hello) does not open with edge-1's key: it was edited, or moved from another site, function or secret name. [ERR_SEALED_OPEN_FAILED]
      hint: Sealed files cannot be edited or renamed by hand: seal the value again and commit the new file: \`edgefn secret seal hello OTHER --site <edge-1's control URL or directory> --out sites/edge-1/secrets/hello.OTHER.sealed.json < value.txt\`."
    `);
    expect(lines(failure(() => open({ ...sealed, keyId: keyIdOf(EDGE_2.publicKey) })))).toMatchInlineSnapshot(`
      "error: sites/edge-1/secrets/hello.API_KEY.sealed.json is sealed to another key of edge-1 (sha256:<id>…; its keys/site.pub is sha256:<id>…). [ERR_SEALED_OTHER_KEY]
      hint: Re-seal it with the site's current keys/site.pub (a new key pair comes with \`edgefn site init --force\`): \`edgefn secret seal hello API_KEY --site <edge-1's control URL or directory> --out sites/edge-1/secrets/hello.API_KEY.sealed.json < value.txt\`."
    `);
    expect(lines(failure(() => open(sealed, EDGE_2, "edge-2")))).toMatchInlineSnapshot(`
      "error: sites/edge-1/secrets/hello.API_KEY.sealed.json is sealed for site edge-1, not edge-2: only edge-1 can open it. [ERR_SEALED_OTHER_SITE]
      hint: Keep edge-2's sealed files under sites/edge-2/secrets/, each sealed for edge-2: \`edgefn secret seal hello API_KEY --site <edge-2's control URL or directory> --out sites/edge-2/secrets/hello.API_KEY.sealed.json < value.txt\`."
    `);
  });

  it("without a file name, errors name the sealed secret", () => {
    expect(failure(() => openSealed({ ...seal(), function: "x" }, { privateKeyPem: EDGE_1.privateKey, site: "edge-1" }))).toMatchObject({
      code: "ERR_SEALED_OPEN_FAILED",
      file: undefined,
      message: expect.stringMatching(/^The sealed secret \(API_KEY of x\) does not open/),
    });
  });

  it("the schema refuses unknown fields, other versions and bad encodings", () => {
    const sealed = seal();
    for (const bad of [
      { ...sealed, value: "plaintext" },
      { ...sealed, apiVersion: "edgefn.dev/v1" },
      { ...sealed, kind: "Secret" },
      { ...sealed, algorithm: "RSA-OAEP" },
      { ...sealed, iv: Buffer.alloc(16).toString("base64") },
      { ...sealed, epk: "not base64!" },
      { ...sealed, keyId: "md5:abc" },
      { ...sealed, name: "not-an-env-name" },
      { ...sealed, function: "Hello" },
      "a string",
      null,
    ]) {
      expect(SealedSecretSchema.safeParse(bad).success).toBe(false);
      expect(failure(() => open(bad))).toMatchObject({ code: "ERR_SEALED_INVALID", file: FILE });
    }
    expect(renderError(failure(() => open({ ...sealed, value: "x" }))).join("\n")).toMatchInlineSnapshot(`
      "error: sites/edge-1/secrets/hello.API_KEY.sealed.json is not a valid sealed secret. [ERR_SEALED_INVALID]
        ✖ Unrecognized key: "value"
      hint: Sealed files are written by \`edgefn secret seal\`, not by hand: seal the value again and commit the new file."
    `);
  });

  it("a key that is not X25519 is a clear error, sealing and opening", () => {
    const ed = generateKeyPairSync("ed25519", { privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
    expect(failure(() => seal("v", { publicKeyPem: ed.publicKey, keyFrom: "sites/edge-1/site.pub" }))).toMatchObject({
      code: "ERR_SEALED_KEY_INVALID",
      message: "sites/edge-1/site.pub is not an X25519 key (it is ed25519).",
    });
    expect(failure(() => seal("v", { publicKeyPem: "not a key" }))).toMatchObject({ code: "ERR_SEALED_KEY_INVALID", message: "The public key is not a PEM public key." });
    expect(failure(() => keyIdOf(ed.publicKey))).toMatchObject({ code: "ERR_SEALED_KEY_INVALID" });
    expect(failure(() => open(seal(), { ...EDGE_1, privateKey: ed.privateKey }))).toMatchObject({
      code: "ERR_SEALED_KEY_INVALID",
      message: "Site edge-1's private key (keys/site.key) is not an X25519 key (it is ed25519).",
    });
  });

  it("refuses names that are not a site, function or env name, and values over 64 KiB", () => {
    expect(failure(() => seal("v", { name: "api-key" }))).toMatchObject({ code: "ERR_SEALED_INVALID" });
    expect(failure(() => seal("v", { site: "Edge_1" }))).toMatchObject({ code: "ERR_SEALED_INVALID" });
    expect(failure(() => seal("x".repeat(64 * 1024 + 1)))).toMatchObject({ code: "ERR_SEALED_INVALID" });
    expect(open(seal("x".repeat(64 * 1024))).value).toHaveLength(64 * 1024);
  });

  it("repository layout: sites/<site>/secrets/<fn>.<SECRET>.sealed.json", () => {
    expect(`${sealedDir("edge-1")}/${sealedFileName("hello", "API_KEY")}`).toBe("sites/edge-1/secrets/hello.API_KEY.sealed.json");
  });
});
