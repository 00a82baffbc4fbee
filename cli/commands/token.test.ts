import { describe, expect, it } from "vitest";
import { LinkTokenSchema, TokenRequestSchema } from "../../runtime/network-api.ts";
import tokenCommand, { formatDuration, parseDuration } from "./token.ts";
import { linkToken, run, startStandIn } from "./van-stand-in.test-helper.ts";

const TOKEN = linkToken({ expiresAt: "2026-03-01T12:15:00.000Z" });

async function standIn(status = 200, body: unknown = { token: TOKEN }) {
  return startStandIn(() => ({ status, body }));
}

describe("parseDuration / formatDuration", () => {
  it.each([
    ["30s", 30],
    ["15m", 900],
    ["2h", 7200],
    ["7d", 604800],
    ["90", 90],
    ["1.5h", undefined],
    ["15 minutes", undefined],
    ["-1m", undefined],
    ["", undefined],
  ])("%j -> %j", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([[900, "15m"], [7200, "2h"], [604800, "7d"], [90, "90s"], [5400, "90m"]])("%d -> %s", (s, text) => {
    expect(formatDuration(s)).toBe(text);
  });
});

describe("edgefn token create", () => {
  it("POSTs a TokenRequest with the claim URL the cli used, prints only the token on stdout", async () => {
    const { url, seen } = await standIn();
    const r = await run(tokenCommand, ["create", "--expires", "2h", "--site", url, "--token", "t0k3n"]);
    expect(r.code).toBe(0);
    expect(seen).toEqual([
      {
        method: "POST",
        url: "/v1/tokens",
        authorization: "Bearer t0k3n",
        body: { expiresInS: 7200, uses: 1, trust: "trusted", grants: [], claimUrl: `${url}/v1/claims` },
      },
    ]);
    expect(TokenRequestSchema.parse(seen[0]!.body)).toEqual(seen[0]!.body);
    // `> a.token` captures exactly the token, pretty-printed, and it reads back as one.
    expect(r.stdout).toBe(`${JSON.stringify(TOKEN, null, 2)}\n`);
    expect(LinkTokenSchema.parse(JSON.parse(r.stdout))).toEqual(TOKEN);

    expect(r.stderr).toContain("Created a link token to edge-a (network van-7f3a)");
    expect(r.stderr).toContain("issuer     edge-a, VAN 10.0.0.1:5671");
    expect(r.stderr).toContain("expires    2026-03-01T12:15:00.000Z (in 2h); it works once");
    expect(r.stderr).toContain("The token is a secret");
    expect(r.stderr).toContain("edgefn link create a.token --site <other-site-control-url> --token <other-site-token> --cost 1");
    expect(r.stderr).not.toContain(TOKEN.secret);
  });

  it("--untrusted --grant (comma-separated, repeatable) --van-address go into the request", async () => {
    const { url, seen } = await standIn();
    const r = await run(tokenCommand, [
      "create",
      "--untrusted",
      "--grant",
      "hello,api",
      "--grant",
      "inventory",
      "--van-address",
      "edge-a.example.com:5671",
      "--site",
      `${url}/`,
      "--token",
      "t",
    ]);
    expect(r.code).toBe(0);
    expect(seen[0]!.body).toEqual({
      expiresInS: 900,
      uses: 1,
      trust: "untrusted",
      grants: ["hello", "api", "inventory"],
      claimUrl: `${url}/v1/claims`,
      vanAddress: "edge-a.example.com:5671",
    });
    expect(r.stderr).toContain("the linking site joins as untrusted, may serve hello, api, inventory");
  });

  it("--uses 2 makes a token two sites may link with; --uses 0 is a usage error", async () => {
    const { url, seen } = await standIn();
    const r = await run(tokenCommand, ["create", "--uses", "2", "--site", url, "--token", "t"]);
    expect(r.code).toBe(0);
    expect(seen[0]!.body).toMatchObject({ uses: 2 });
    expect(r.stderr).toContain("it works for 2 sites");
    const bad = await run(tokenCommand, ["create", "--uses", "0", "--site", url, "--token", "t"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("must be at least 1");
  });

  it("--json: stdout is the token as one JSON line, nothing on stderr", async () => {
    const { url } = await standIn();
    const r = await run(tokenCommand, ["create", "--json", "--site", url, "--token", "t"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify(TOKEN)}\n`);
    expect(r.stderr).toBe("");
  });

  it("--grant without --untrusted warns that it changes nothing", async () => {
    const { url } = await standIn();
    const r = await run(tokenCommand, ["create", "--grant", "hello", "--site", url, "--token", "t"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("--grant applies to untrusted sites only");
  });

  it.each([
    [["--expires", "15 minutes"], 'Invalid --expires "15 minutes": must be a duration such as 30s, 15m, 2h or 7d.'],
    [["--expires", "8d"], 'Invalid --expires "8d": must be at most 7d.'],
    [["--expires", "0s"], 'Invalid --expires "0s": must be at least 1s.'],
    [["--van-address", "edge-a"], 'Invalid --van-address "edge-a": must be host:port, e.g. 10.0.0.2:5671.'],
    [["--grant", "Hello"], "Invalid --grant"],
  ])("usage error for %j, before any request", async (flags, message) => {
    const { url, seen } = await standIn();
    const r = await run(tokenCommand, ["create", ...flags, "--site", url, "--token", "t"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${message}`);
    expect(seen).toEqual([]);
  });

  it("the site's coded error comes through with its hint (a site without the network CA)", async () => {
    const { url } = await standIn(403, {
      error: { code: "ERR_NOT_CA", message: "edge-b does not hold the network CA", hint: "Create the token on edge-a, which holds it." },
    });
    const r = await run(tokenCommand, ["create", "--site", url, "--token", "t"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("error: edge-b does not hold the network CA [ERR_NOT_CA]\nhint: Create the token on edge-a, which holds it.");
  });

  it("an answer that is not a LinkToken is refused, and nothing lands on stdout", async () => {
    const { url } = await standIn(200, { token: { ...TOKEN, secret: "short" } });
    const r = await run(tokenCommand, ["create", "--site", url, "--token", "t"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("[ERR_SITE_RESPONSE]");
    expect(r.stderr).toContain("token.secret");
  });
});
