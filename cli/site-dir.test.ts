import { createPrivateKey, createPublicKey, diffieHellman } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useTmpDir } from "../test/helpers/tmp.ts";
import { createSiteDir, loadSiteDir, SiteConfigSchema } from "./site-dir.ts";

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

describe("createSiteDir", () => {
  it("writes site.json, a 0600 hex token and a 0600 X25519 key pair", async () => {
    const dir = path.join(useTmpDir(), "site-a");
    const site = await createSiteDir(dir, { name: "edge-a", region: "eu-west", force: false, now: new Date("2026-01-02T03:04:05.000Z") });

    expect(JSON.parse(readFileSync(path.join(dir, "site.json"), "utf8"))).toEqual({
      name: "edge-a",
      region: "eu-west",
      trust: "trusted",
      createdAt: "2026-01-02T03:04:05.000Z",
    });
    expect(readFileSync(path.join(dir, "control.token"), "utf8")).toMatch(/^[0-9a-f]{64}$/);
    expect(site.token).toBe(readFileSync(path.join(dir, "control.token"), "utf8"));
    expect(mode(path.join(dir, "control.token"))).toBe("600");
    expect(mode(path.join(dir, "keys/site.key"))).toBe("600");
    expect(mode(path.join(dir, "keys"))).toBe("700");

    const key = createPrivateKey(readFileSync(path.join(dir, "keys/site.key")));
    const pub = createPublicKey(readFileSync(path.join(dir, "keys/site.pub")));
    expect(readFileSync(path.join(dir, "keys/site.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readFileSync(path.join(dir, "keys/site.pub"), "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(key.asymmetricKeyType).toBe("x25519");
    // The two files are one pair: the public key is the private key's.
    expect(createPublicKey(key).export({ format: "der", type: "spki" })).toEqual(pub.export({ format: "der", type: "spki" }));
    expect(diffieHellman({ privateKey: key, publicKey: pub })).toHaveLength(32);
  });

  it("refuses an existing site, naming it, unless force; force writes a new token with mode 0600", async () => {
    const dir = useTmpDir();
    const first = await createSiteDir(dir, { name: "edge-a", region: "local", force: false });
    await expect(createSiteDir(dir, { name: "edge-b", region: "local", force: false })).rejects.toMatchObject({
      code: "ERR_SITE_EXISTS",
      message: expect.stringContaining("is already the site edge-a (region local)"),
      hint: expect.stringContaining("--force"),
    });

    writeFileSync(path.join(dir, "control.token"), "old", { mode: 0o644 });
    const second = await createSiteDir(dir, { name: "edge-b", region: "local", force: true });
    expect(second.token).not.toBe(first.token);
    expect(mode(path.join(dir, "control.token"))).toBe("600");
    expect((await loadSiteDir(dir)).config.name).toBe("edge-b");
  });

  it("refuses a non-empty directory that is not a site", async () => {
    const dir = useTmpDir();
    writeFileSync(path.join(dir, "notes.txt"), "mine");
    await expect(createSiteDir(dir, { name: "edge-a", region: "local", force: false })).rejects.toMatchObject({ code: "ERR_DIR_NOT_EMPTY" });
  });
});

describe("loadSiteDir", () => {
  it("reads back what createSiteDir wrote", async () => {
    const dir = useTmpDir();
    const made = await createSiteDir(dir, { name: "edge-a", region: "eu-west", force: false });
    const loaded = await loadSiteDir(dir);
    expect(loaded).toEqual(made);
    expect(SiteConfigSchema.parse(loaded.config)).toEqual(made.config);
  });

  it("keeps trust: untrusted; a site.json from before trust existed reads as trusted", async () => {
    const dir = useTmpDir();
    await createSiteDir(dir, { name: "edge-c", region: "local", force: false, trust: "untrusted" });
    expect(JSON.parse(readFileSync(path.join(dir, "site.json"), "utf8"))).toMatchObject({ trust: "untrusted" });
    expect((await loadSiteDir(dir)).config.trust).toBe("untrusted");

    writeFileSync(path.join(dir, "site.json"), '{"name":"edge-c","region":"local","createdAt":"2026-01-01T00:00:00.000Z"}');
    expect((await loadSiteDir(dir)).config).toEqual({ name: "edge-c", region: "local", trust: "trusted", createdAt: "2026-01-01T00:00:00.000Z" });
  });

  it("refuses a trust that is neither trusted nor untrusted, naming the field", async () => {
    const dir = useTmpDir();
    await createSiteDir(dir, { name: "edge-c", region: "local", force: false });
    writeFileSync(path.join(dir, "site.json"), '{"name":"edge-c","region":"local","trust":"semi","createdAt":"2026-01-01T00:00:00.000Z"}');
    await expect(loadSiteDir(dir)).rejects.toMatchObject({ code: "ERR_NOT_A_SITE", details: expect.stringContaining("trust") });
  });

  it.each([
    ["no site.json", {}, /has no site\.json/],
    ["an invalid site.json", { "site.json": '{"name":"Edge A"}' }, /is not a valid site file/],
    ["no control.token", { "site.json": '{"name":"edge-a","region":"x","createdAt":"2026-01-01T00:00:00.000Z"}' }, /control\.token is missing/],
  ])("refuses a directory with %s", async (_what, files, message) => {
    const dir = useTmpDir();
    for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
    await expect(loadSiteDir(dir)).rejects.toMatchObject({ code: "ERR_NOT_A_SITE", message: expect.stringMatching(message) });
  });
});
