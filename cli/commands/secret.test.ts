import { generateKeyPairSync } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { useTmpDir } from "../../test/helpers/tmp.ts";
import { renderUsage } from "../command.ts";
import { displayPath } from "../project.ts";
import { keyIdOf, openSealed } from "../sealed.ts";
import { createSiteDir, type SiteDir } from "../site-dir.ts";
import secretCommand, { readSecretValue } from "./secret.ts";
import { run, startStandIn } from "./van-stand-in.test-helper.ts";

const stdin = (...chunks: (string | Buffer)[]) => Readable.from(chunks.map((c) => Buffer.from(c)));
const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

describe("readSecretValue", () => {
  it.each([
    ["drops one trailing newline", ["s3cret\n"], "s3cret"],
    ["drops one trailing CRLF", ["s3cret\r\n"], "s3cret"],
    ["keeps a second newline: it is part of the value", ["line1\nline2\n\n"], "line1\nline2\n"],
    ["keeps a value without a newline as it is", ["s3cret"], "s3cret"],
    ["joins chunks", ["s3", "cr", "et\n"], "s3cret"],
  ])("%s", async (_name, chunks, expected) => {
    expect(text(await readSecretValue(stdin(...chunks), "API_KEY"))).toBe(expected);
  });

  it("passes bytes through untouched", async () => {
    const bytes = Buffer.from([0, 255, 0x0a, 0x80]);
    expect(Buffer.from(await readSecretValue(Readable.from([bytes]), "BLOB"))).toEqual(Buffer.from([0, 255, 0x0a, 0x80]));
  });

  it("refuses a terminal on stdin, so the value never shows on screen", async () => {
    const tty = Object.assign(stdin("typed"), { isTTY: true });
    await expect(readSecretValue(tty, "API_KEY")).rejects.toMatchObject({
      code: "ERR_STDIN_TTY",
      hint: "Pipe the value in or redirect a file, so it never shows on screen: `edgefn secret put <name> API_KEY < file`.",
    });
  });

  it.each([[[]], [["\n"]]])("refuses an empty value (%j)", async (chunks) => {
    await expect(readSecretValue(stdin(...chunks), "API_KEY")).rejects.toMatchObject({ code: "ERR_SECRET_EMPTY" });
  });
});

describe("edgefn secret seal", () => {
  /** Runs `edgefn secret …` with `value` on stdin, as a pipe would give it. */
  async function seal(argv: string[], value: string | Buffer = "s3cret\n") {
    const spy = vi.spyOn(process, "stdin", "get").mockReturnValue(stdin(value) as unknown as typeof process.stdin);
    try {
      return await run(secretCommand, ["seal", ...argv]);
    } finally {
      spy.mockRestore();
    }
  }

  async function siteDir(name = "edge-1"): Promise<SiteDir> {
    return createSiteDir(path.join(useTmpDir(), name), { name, region: "local", force: false });
  }

  const openWith = (site: SiteDir, json: string, file?: string) =>
    openSealed(JSON.parse(json), { privateKeyPem: readFileSync(site.files.key, "utf8"), site: site.config.name, ...(file === undefined ? {} : { file }) });

  /** Masks what changes from run to run: temp dirs and key ids. */
  // Paths are shown relative to the working directory when that is shorter (displayPath): a
  // checkout next to the temporary folders (CI clones into /tmp) shows them as ../edgefn-test-….
  const mask = (s: string, dir: string) =>
    s.split(dir).join("<tmp>").split(displayPath(dir)).join("<tmp>").replace(/sha256:[0-9a-f]{64}/g, "sha256:<keyId>");

  it("from a site directory: writes --out (creating folders) that only that site opens", async () => {
    const site = await siteDir();
    const repo = useTmpDir();
    const out = path.join(repo, "sites/edge-1/secrets/hello.API_KEY.sealed.json");
    const r = await seal(["hello", "API_KEY", "--site", site.dir, "--out", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(mask(r.stderr, repo)).toMatchInlineSnapshot(`
      "✓ Sealed API_KEY of hello for site edge-1 → <tmp>/sites/edge-1/secrets/hello.API_KEY.sealed.json (commit it)
      "
    `);
    const text = readFileSync(out, "utf8");
    expect(text.endsWith("}\n")).toBe(true);
    expect(text).toContain('\n  "kind": "SealedSecret",\n');
    expect(JSON.parse(text)).toMatchObject({ site: "edge-1", function: "hello", name: "API_KEY", keyId: keyIdOf(readFileSync(site.files.publicKey, "utf8")) });
    expect(openWith(site, text, out)).toEqual({ fn: "hello", name: "API_KEY", value: "s3cret" });
    expect(r.stderr + text).not.toContain("s3cret");
  });

  it("from a control URL: GET /v1/site gives the name and sealKey; --json prints the facts", async () => {
    const site = await siteDir();
    const sealKey = readFileSync(site.files.publicKey, "utf8");
    const { url, seen } = await startStandIn(() => ({ status: 200, body: siteInfo({ sealKey }) }));
    const out = path.join(useTmpDir(), "x.json");
    const r = await seal(["hello", "API_KEY", "--site", url, "--token", "t0k3n", "--out", out, "--json"], "line1\nline2\n\n");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(seen.map((s) => `${s.method} ${s.url} ${s.authorization}`)).toEqual(["GET /v1/site Bearer t0k3n"]);
    expect(JSON.parse(r.stdout)).toEqual({ site: "edge-1", function: "hello", secret: "API_KEY", keyId: keyIdOf(sealKey), file: out });
    expect(openWith(site, readFileSync(out, "utf8")).value).toBe("line1\nline2\n");
  });

  it("offline with --key and --for: the sealed JSON goes to stdout, the note to stderr", async () => {
    const site = await siteDir();
    const r = await seal(["hello", "API_KEY", "--key", site.files.publicKey, "--for", "edge-1"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatchInlineSnapshot(`
      "✓ Sealed API_KEY of hello for site edge-1 → stdout; commit it as sites/edge-1/secrets/hello.API_KEY.sealed.json
      "
    `);
    expect(r.stdout.endsWith("}\n")).toBe(true);
    expect(openWith(site, r.stdout).value).toBe("s3cret");
    expect(r.stdout).not.toContain("s3cret");
  });

  it("--json without --out carries the sealed file in the JSON", async () => {
    const site = await siteDir();
    const r = await seal(["hello", "API_KEY", "--key", site.files.publicKey, "--for", "edge-1", "--json"]);
    const data = JSON.parse(r.stdout) as { sealed: unknown };
    expect(data).toMatchObject({ site: "edge-1", function: "hello", secret: "API_KEY" });
    expect(openWith(site, JSON.stringify(data.sealed)).value).toBe("s3cret");
  });

  it("an --out path off the conventional layout gets a note where the site looks", async () => {
    const site = await siteDir();
    const dir = useTmpDir();
    const r = await seal(["hello", "API_KEY", "--key", site.files.publicKey, "--for", "edge-1", "--out", path.join(dir, "a/b/secret.json")]);
    expect(mask(r.stderr, dir)).toMatchInlineSnapshot(`
      "✓ Sealed API_KEY of hello for site edge-1 → <tmp>/a/b/secret.json (commit it as sites/edge-1/secrets/hello.API_KEY.sealed.json, where the site looks for it)
      "
    `);
  });

  it("--key without --for, or with --site, is a usage error with the fix", async () => {
    const site = await siteDir();
    const noFor = await seal(["hello", "API_KEY", "--key", "site.pub"]);
    expect(noFor.code).toBe(2);
    expect(noFor.stderr).toMatchInlineSnapshot(`
      "error: --key needs --for: the name of the site the key belongs to (it is sealed into the file). [ERR_USAGE]
      hint: Add --for <site>, e.g. \`edgefn secret seal hello API_KEY --key site.pub --for edge-1\`."
    `);
    const both = await seal(["hello", "API_KEY", "--key", "site.pub", "--for", "edge-1", "--site", site.dir]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("Pass either --site or --key, not both.");
    const forAlone = await seal(["hello", "API_KEY", "--for", "edge-1", "--site", site.dir]);
    expect(forAlone.code).toBe(2);
    expect(forAlone.stderr).toContain("--for goes with --key");
  });

  it("a site without a sealKey: says so and points to --key", async () => {
    const { url } = await startStandIn(() => ({ status: 200, body: siteInfo({}) }));
    const r = await seal(["hello", "API_KEY", "--site", url, "--token", "t"]);
    expect(r.code).toBe(1);
    expect(r.stderr.split(url).join("<site>")).toMatchInlineSnapshot(`
      "error: Site edge-1 (<site>) has no public key to seal to: its directory has no keys/site.pub. [ERR_SEALED_NO_KEY]
      hint: Seal offline with its public key file: \`--key <site.pub> --for edge-1\`, or give the site a key pair with \`edgefn site init <dir> --name edge-1 --force\` (this also replaces its control token)."
    `);
  });

  it("a site directory without keys/site.pub, a missing directory, a missing or wrong key file", async () => {
    const site = await siteDir();
    rmSync(site.files.publicKey);
    const noPub = await seal(["hello", "API_KEY", "--site", site.dir]);
    expect(noPub).toMatchObject({ code: 1, stdout: "" });
    expect(noPub.stderr).toContain("[ERR_SEALED_NO_KEY]");
    expect(noPub.stderr).toContain("keys/site.pub does not exist.");

    const missing = await seal(["hello", "API_KEY", "--site", "./no-such-site"]);
    expect(missing.stderr).toMatch(/^error: \.\/no-such-site is not a directory\. \[ERR_NOT_A_SITE\]/);

    const noKey = await seal(["hello", "API_KEY", "--key", path.join(site.dir, "nope.pub"), "--for", "edge-1"]);
    expect(noKey.stderr).toContain("[ERR_FILE_NOT_FOUND]");

    const privateKey = await seal(["hello", "API_KEY", "--key", site.files.key, "--for", "edge-1"]);
    expect(privateKey.code).toBe(1);
    expect(mask(privateKey.stderr, site.dir).replace("<tmp>", "<site>")).toMatchInlineSnapshot(`
      "error: <site>/keys/site.key is a private key, not a public key. [ERR_SEALED_KEY_INVALID]
      hint: Seal to the site's keys/site.pub, the X25519 key \`edgefn site init\` writes (or pass --site and edgefn fetches it)."
    `);

    const edFile = path.join(site.dir, "ed.pub");
    writeFileSync(edFile, generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }));
    const wrongKey = await seal(["hello", "API_KEY", "--key", edFile, "--for", "edge-1"]);
    expect(wrongKey.code).toBe(1);
    expect(mask(wrongKey.stderr, site.dir).replace("<tmp>", "<site>")).toMatchInlineSnapshot(`
      "error: <site>/ed.pub is not an X25519 key (it is ed25519). [ERR_SEALED_KEY_INVALID]
      hint: Seal to the site's keys/site.pub, the X25519 key \`edgefn site init\` writes (or pass --site and edgefn fetches it)."
    `);
  });

  it("reads stdin as `secret put` does: an empty value is refused, with the seal command in the hint", async () => {
    const site = await siteDir();
    const r = await seal(["hello", "API_KEY", "--site", site.dir], "\n");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatchInlineSnapshot(`
      "error: stdin was empty, so there is no value for API_KEY. [ERR_SECRET_EMPTY]
      hint: Pipe the value in or redirect a file: \`edgefn secret seal <name> API_KEY < file\`."
    `);
  });

  it("validates the function, secret and site names", async () => {
    expect((await seal(["Hello", "API_KEY", "--key", "k", "--for", "edge-1"])).code).toBe(2);
    expect((await seal(["hello", "api-key", "--key", "k", "--for", "edge-1"])).code).toBe(2);
    expect((await seal(["hello", "API_KEY", "--key", "k", "--for", "Edge_1"])).code).toBe(2);
  });

  it("help: seal's options and examples; the group lists seal", async () => {
    const r = await run(secretCommand, ["seal", "--help"]);
    expect(r.code).toBe(0);
    expect(await renderUsage(await secretCommand.subCommands!["seal"]!(), ["edgefn", "secret"])).toMatchInlineSnapshot(`
      "Encrypt a secret from stdin to one site's public key, for committing to git (GitOps).

      Usage: edgefn secret seal <name> <secret> [options]

      Arguments:
        <name>    Function the secret belongs to (metadata.name)
        <secret>  Secret name; the function reads it as env.<SECRET>

      Options:
            --site <dir|url>  Site to seal for: its directory (reads keys/site.pub) or control API (default: $EDGEFN_SITE)
            --token <token>   The site's control token (default: $EDGEFN_TOKEN)
            --key <file>      Seal offline to this public key (a site's keys/site.pub); needs --for
            --for <site>      Name of the site --key belongs to
            --out <file>      Write the sealed file here, creating folders (default: stdout)
            --json            Print the result as JSON
        -h, --help            Show this help

      Examples:
        edgefn secret seal hello API_KEY --site ./site-a --out sites/edge-a/secrets/hello.API_KEY.sealed.json < key.txt
        printf %s "$API_KEY" | edgefn secret seal hello API_KEY --site http://10.0.0.5:9080 --out sites/edge-1/secrets/hello.API_KEY.sealed.json
        edgefn secret seal hello API_KEY --key sites/edge-1/site.pub --for edge-1 < key.txt > hello.API_KEY.sealed.json"
    `);
    expect(await renderUsage(secretCommand, ["edgefn"])).toMatchInlineSnapshot(`
      "Set, remove and seal secrets of a function (seal: encrypt one to a site's key, for git).

      Usage: edgefn secret <command> [options]

      Commands:
        put   Set a function's secret from stdin (one trailing newline is dropped).
        rm    Remove a function's secret.
        seal  Encrypt a secret from stdin to one site's public key, for committing to git (GitOps).

      Options:
        -h, --help  Show this help

      Examples:
        edgefn secret put hello API_KEY < key.txt
        edgefn secret rm hello API_KEY
        edgefn secret seal hello API_KEY --site ./site-a --out sites/edge-a/secrets/hello.API_KEY.sealed.json < key.txt"
    `);
  });
});

function siteInfo(over: { sealKey?: string }) {
  return { name: "edge-1", region: "local", ingressUrl: "http://127.0.0.1:8081", functions: 0, keepVersions: 3, ...over };
}
