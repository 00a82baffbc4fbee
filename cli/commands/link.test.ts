import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useTmpDir } from "../../test/helpers/tmp.ts";
import linkCommand, { formatLinkTable, readTokenFile } from "./link.ts";
import { LINK_DOWN, LINK_UP, linkToken, run, startStandIn } from "./van-stand-in.test-helper.ts";

function tokenFile(content: unknown): string {
  const file = path.join(useTmpDir(), "a.token");
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return file;
}

describe("readTokenFile", () => {
  it("reads what `token create` printed", async () => {
    const token = linkToken();
    expect(await readTokenFile(tokenFile(token))).toEqual(token);
  });

  it("a missing file: ERR_FILE_NOT_FOUND naming it", async () => {
    const file = path.join(useTmpDir(), "nope.token");
    await expect(readTokenFile(file)).rejects.toMatchObject({ code: "ERR_FILE_NOT_FOUND", message: expect.stringContaining("nope.token: it does not exist") });
  });

  it("not JSON: ERR_TOKEN_INVALID naming the file", async () => {
    const file = tokenFile("edgefn-link-token v1 ...");
    await expect(readTokenFile(file)).rejects.toMatchObject({
      code: "ERR_TOKEN_INVALID",
      message: expect.stringMatching(/a\.token is not a link token: it is not JSON\.$/),
      hint: expect.stringContaining("edgefn token create"),
    });
  });

  it.each([
    ["a field cut short", { secret: "abc" }, "secret: must be a base64url secret"],
    ["a wrong kind", { kind: "something-else" }, "kind: Invalid input"],
    ["a bad VAN address", { van: "10.0.0.1" }, "van: must be host:port"],
  ])("%s: ERR_TOKEN_INVALID naming the file and the field", async (_what, change, message) => {
    const file = tokenFile({ ...linkToken(), ...change });
    await expect(readTokenFile(file)).rejects.toMatchObject({
      code: "ERR_TOKEN_INVALID",
      message: expect.stringContaining(`a.token is not a valid link token: ${message}`),
    });
  });

  it("a missing field: names it", async () => {
    const { ca: _ca, ...rest } = linkToken();
    await expect(readTokenFile(tokenFile(rest))).rejects.toMatchObject({ code: "ERR_TOKEN_INVALID", message: expect.stringContaining("token is not a valid link token: ca:") });
  });

  it("an expired token: ERR_TOKEN_EXPIRED with the time, the issuer, and how to get a new one", async () => {
    const file = tokenFile(linkToken({ expiresAt: "2026-03-01T12:00:00.000Z" }));
    await expect(readTokenFile(file, new Date("2026-03-01T12:00:01.000Z"))).rejects.toMatchObject({
      code: "ERR_TOKEN_EXPIRED",
      message: expect.stringContaining("(from edge-a) expired at 2026-03-01T12:00:00.000Z"),
      hint: expect.stringContaining("`edgefn token create > a.token`"),
    });
    expect(await readTokenFile(file, new Date("2026-03-01T11:59:59.000Z"))).toMatchObject({ issuer: "edge-a" });
  });
});

describe("edgefn link create", () => {
  it("POSTs {token, cost} and prints the link", async () => {
    const token = linkToken();
    const { url, seen } = await startStandIn(() => ({ status: 201, body: { link: { ...LINK_UP, cost: 2.5 } } }));
    const r = await run(linkCommand, ["create", tokenFile(token), "--cost", "2.5", "--site", url, "--token", "t0k3n"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(seen).toEqual([{ method: "POST", url: "/v1/links", authorization: "Bearer t0k3n", body: { token, cost: 2.5 } }]);
    expect(r.stdout).toBe(
      [
        "✓ Linked to edge-a: up",
        "  PEER    ADDRESS        COST  STATE  TRUST    ERROR",
        "  edge-a  10.0.0.1:5671  2.5   up     trusted",
        "",
        "See the network from this site with `edgefn status`.",
        "",
      ].join("\n"),
    );
  });

  it("cost defaults to 1; --json prints {link}", async () => {
    const { url, seen } = await startStandIn(() => ({ status: 201, body: { link: LINK_UP } }));
    const r = await run(linkCommand, ["create", tokenFile(linkToken()), "--json", "--site", url, "--token", "t"]);
    expect(r.code).toBe(0);
    expect((seen[0]!.body as { cost: number }).cost).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ link: LINK_UP });
  });

  it("a link that is down: a warning with its error", async () => {
    const { url } = await startStandIn(() => ({ status: 201, body: { link: { ...LINK_DOWN, peer: "edge-a", address: "10.0.0.1:5671" } } }));
    const r = await run(linkCommand, ["create", tokenFile(linkToken()), "--site", url, "--token", "t"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("⚠ The link to edge-a is down: TLS handshake refused.");
  });

  it("an expired token fails before anything is contacted", async () => {
    const { url, seen } = await startStandIn(() => ({ status: 201, body: { link: LINK_UP } }));
    const file = tokenFile(linkToken({ expiresAt: "2020-01-01T00:00:00.000Z" }));
    const r = await run(linkCommand, ["create", file, "--site", url, "--token", "t"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[ERR_TOKEN_EXPIRED]");
    expect(r.stderr).toContain("hint: Ask the issuing site's operator for a new one: `edgefn token create > a.token`");
    expect(seen).toEqual([]);
  });

  it.each([["0"], ["-1"], ["cheap"], ["2000000"]])("--cost %s is a usage error", async (cost) => {
    const r = await run(linkCommand, ["create", "a.token", `--cost=${cost}`, "--site", "http://127.0.0.1:1", "--token", "t"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: Invalid --cost "${cost}"`);
  });

  it("the site's coded error (the issuer refused the claim) comes through", async () => {
    const { url } = await startStandIn(() => ({
      status: 409,
      body: { error: { code: "ERR_TOKEN_USED", message: "edge-a refused the token: it was used already", hint: "Ask for a new token." } },
    }));
    const r = await run(linkCommand, ["create", tokenFile(linkToken()), "--site", url, "--token", "t"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: edge-a refused the token: it was used already [ERR_TOKEN_USED]\nhint: Ask for a new token.");
  });
});

describe("edgefn link ls / rm", () => {
  it("ls: GET /v1/links, one row per link; inbound links show as such", async () => {
    const { url, seen } = await startStandIn(() => ({ status: 200, body: { links: [LINK_UP, LINK_DOWN] } }));
    const r = await run(linkCommand, ["ls", "--site", url, "--token", "t"]);
    expect(r.code).toBe(0);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(["GET /v1/links"]);
    expect(r.stdout).toBe(`${formatLinkTable([LINK_UP, LINK_DOWN]).join("\n")}\n`);
    expect(formatLinkTable([LINK_UP, LINK_DOWN])).toEqual([
      "PEER    ADDRESS        COST  STATE  TRUST      ERROR",
      "edge-a  10.0.0.1:5671  1     up     trusted",
      "edge-c  (inbound)      5     down   untrusted  TLS handshake refused",
    ]);
  });

  it("ls with no links says how to make one; --json prints the array", async () => {
    const { url } = await startStandIn(() => ({ status: 200, body: { links: [] } }));
    expect((await run(linkCommand, ["ls", "--site", url, "--token", "t"])).stdout).toContain("`edgefn link create <token-file>`");
    expect(JSON.parse((await run(linkCommand, ["ls", "--json", "--site", url, "--token", "t"])).stdout)).toEqual([]);
  });

  it("rm: DELETE /v1/links/<peer>", async () => {
    const { url, seen } = await startStandIn(() => ({ status: 200, body: { removed: "edge-a" } }));
    const r = await run(linkCommand, ["rm", "edge-a", "--site", url, "--token", "t"]);
    expect(r.code).toBe(0);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(["DELETE /v1/links/edge-a"]);
    expect(r.stdout).toBe("✓ Removed the link to edge-a\n");
  });

  it("rm: an unknown peer is the site's error", async () => {
    const { url } = await startStandIn(() => ({ status: 404, body: { error: { code: "ERR_LINK_NOT_FOUND", message: "no link to edge-z", hint: "Run `edgefn link ls`." } } }));
    const r = await run(linkCommand, ["rm", "edge-z", "--site", url, "--token", "t"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: no link to edge-z [ERR_LINK_NOT_FOUND]\nhint: Run `edgefn link ls`.");
  });

  it("rm: a peer that is not a site name is a usage error", async () => {
    const r = await run(linkCommand, ["rm", "Edge A", "--site", "http://127.0.0.1:1", "--token", "t"]);
    expect(r.code).toBe(2);
  });
});
