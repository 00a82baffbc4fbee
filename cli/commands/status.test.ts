import { describe, expect, it } from "vitest";
import siteCommand from "./site.ts";
import statusCommand, { describeLoad } from "./status.ts";
import { LINK_DOWN, LINK_UP, run, siteStatus, startStandIn } from "./van-stand-in.test-helper.ts";

const NETWORK = {
  id: "van-7f3a",
  holdsCa: false,
  trust: "trusted" as const,
  grants: [],
  caFingerprint: "sha256:AB:CD:EF",
  listen: "0.0.0.0:5672",
  links: [LINK_UP, LINK_DOWN],
  sites: [
    { site: "edge-b", cost: 0, via: null, trust: "trusted" as const, functions: ["hello"] },
    { site: "edge-a", cost: 1, via: "edge-a", trust: "trusted" as const, functions: ["hello", "api"] },
    { site: "edge-c", cost: 6, via: "edge-a", trust: "untrusted" as const, functions: [] },
  ],
};

describe("edgefn status", () => {
  it("says how loaded the site is and which priorities it limits, and why", () => {
    expect(describeLoad({ pressure: 0.31, isolateCpu: 0.3, lagMs: 2.4, shedding: [], limits: {} })).toBe(
      "31% (isolate CPU 30%, loop delay 2 ms); admitting every priority",
    );
    expect(describeLoad({ pressure: 1.02, isolateCpu: 0.98, lagMs: 12, shedding: ["best-effort", "low"], limits: { "best-effort": 0, low: 3 } })).toBe(
      "102% (isolate CPU 98%, loop delay 12 ms); saturated, limiting best-effort to 0 in flight, low to 3 in flight (the rest goes to other sites, or gets 503 + Retry-After)",
    );
  });

  it("is also `edgefn site status` (DESIGN.md's site init/up/status)", async () => {
    const { url, seen } = await startStandIn(() => ({ status: 200, body: siteStatus(NETWORK) }));
    const r = await run(siteCommand, ["status", "--site", url, "--token", "t0k3n", "--json"]);
    expect(r.code).toBe(0);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(["GET /v1/status"]);
    expect(JSON.parse(r.stdout)).toMatchObject({ site: "edge-b", network: { id: "van-7f3a" } });
  });

  it("GET /v1/status: site, network, links, sites, functions", async () => {
    const { url, seen } = await startStandIn(() => ({ status: 200, body: siteStatus(NETWORK) }));
    const r = await run(statusCommand, ["--site", url, "--token", "t0k3n"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(seen.map((s) => `${s.method} ${s.url} ${s.authorization}`)).toEqual(["GET /v1/status Bearer t0k3n"]);
    expect(r.stdout).toMatchInlineSnapshot(`
      "Site edge-b (region eu-west)
        ingress  http://127.0.0.1:8081

      Network van-7f3a
        trust    trusted
        CA       held by another site
        CA fingerprint sha256:AB:CD:EF
        listen   0.0.0.0:5672

      Links
        PEER    ADDRESS        COST  STATE  TRUST      ERROR
        edge-a  10.0.0.1:5671  1     up     trusted
        edge-c  (inbound)      5     down   untrusted  TLS handshake refused

      Sites
        SITE                COST  VIA     TRUST      FUNCTIONS
        edge-b (this site)  0     -       trusted    hello
        edge-a              1     edge-a  trusted    hello, api
        edge-c              6     edge-a  untrusted  -

      Functions
        NAME   VERSION  PRIORITY  ATTACHED
        hello  v3       normal    yes
        api    v1       high      no
        attached: its receiver is attached to this site's router, so the VAN routes calls to it here.
      "
    `);
  });

  it("an untrusted site holding no links: its grants, and how to link", async () => {
    const network = { ...NETWORK, holdsCa: true, trust: "untrusted" as const, grants: ["hello"], links: [] };
    const { url } = await startStandIn(() => ({ status: 200, body: siteStatus(network) }));
    const r = await run(statusCommand, ["--site", url, "--token", "t"]);
    expect(r.stdout).toContain("trust    untrusted (may serve: hello)");
    expect(r.stdout).toContain("CA       held here: this site can issue link tokens (`edgefn token create`)");
    expect(r.stdout).toContain("Links\n  none. Link to another site with `edgefn link create <token-file>`.");
  });

  it("no VAN: says so, and how to start the site with one", async () => {
    const { url } = await startStandIn(() => ({ status: 200, body: siteStatus(null) }));
    const r = await run(statusCommand, ["--site", url, "--token", "t"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Network none: this site runs without a VAN");
    expect(r.stdout).toContain("edgefn site up <site-dir> --van <host:port>");
    expect(r.stdout).not.toContain("Links");
    expect(r.stdout).not.toContain("attached: ");
  });

  it("--json: the SiteStatus as one line", async () => {
    const body = siteStatus(NETWORK);
    const { url } = await startStandIn(() => ({ status: 200, body }));
    const r = await run(statusCommand, ["--json", "--site", url, "--token", "t"]);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toEqual(body);
  });

  it("an answer that is not a SiteStatus: ERR_SITE_RESPONSE", async () => {
    const { url } = await startStandIn(() => ({ status: 200, body: { site: "edge-b" } }));
    const r = await run(statusCommand, ["--site", url, "--token", "t"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("answered GET /v1/status with something edgefn does not understand. [ERR_SITE_RESPONSE]");
  });

  it("no site given: ERR_NO_SITE", async () => {
    const saved = process.env["EDGEFN_SITE"];
    delete process.env["EDGEFN_SITE"];
    try {
      const r = await run(statusCommand, ["--token", "t"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("[ERR_NO_SITE]");
    } finally {
      if (saved !== undefined) process.env["EDGEFN_SITE"] = saved;
    }
  });
});
