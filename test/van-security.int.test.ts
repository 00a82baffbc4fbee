/**
 * The VAN's security: what a site refuses, and what it does not believe.
 *
 *  - Link tokens are one-time, expire, cannot be forged, and only the CA's site issues them.
 *  - The VAN port takes router links only over mutual TLS with a certificate of the network's
 *    CA that names the router dialling: another network's certificate, a plaintext dial, or a
 *    right-CA certificate naming another site than the router claims to be are all refused.
 *  - An untrusted site serves only what its token granted (it cannot take over a trusted
 *    site's function by being nearer), may not run trusted-only functions, and the caller it
 *    names on a call is not believed by the function called.
 *
 * Everything is real: each site is a `runtime/main.ts` process on 127.0.0.1 with its own router
 * and state directory, linked over real mutual TLS on loopback through the control API; the
 * hostile routers are real routers started in process. Every wait is bounded.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { parseRouterConfig, startRouter, type LinkState, type Router, type TlsMaterial } from "../router/index.ts";
import * as pki from "../router/pki.ts";
import type { LinkToken } from "../runtime/network-api.ts";
import { inlineFunction } from "./helpers/inline.ts";
import { eventually, issueToken, linkSites, startSite, waitServed, type SiteHandle } from "./helpers/sites.ts";

/** A function answering with its name and the site it ran at. */
const ANSWER = (name: string) =>
  `export default { fetch(req: Request, env: unknown, ctx: { site: string }) { return new Response("${name} at " + ctx.site); } };`;

/** Calls env.SECRET (a service binding) and reports what came back, always with 200. */
const CALLER_SOURCE = `export default {
  async fetch(req: Request, env: { SECRET: { fetch(url: string): Promise<Response> } }) {
    const res = await env.SECRET.fetch("http://secret-fn/");
    const body = await res.text();
    return Response.json({ status: res.status, site: res.headers.get("x-edgefn-site"), body });
  },
};`;

const errorOf = (json: any): { code?: string; message?: string } => json?.error ?? {};

async function stopAll(sites: (SiteHandle | undefined)[]): Promise<void> {
  await Promise.all(sites.map((s) => s?.stop()));
}

describe("link tokens", () => {
  let issuer: SiteHandle; // founds the network: holds the CA
  let joiner: SiteHandle;
  let latecomer: SiteHandle;

  beforeAll(async () => {
    [issuer, joiner, latecomer] = await Promise.all([startSite("issuer"), startSite("joiner"), startSite("latecomer")]);
  });
  afterAll(() => stopAll([issuer, joiner, latecomer]));

  it("redeems a token once: a second site presenting it is refused and gets no link", async () => {
    const token = await issueToken(issuer);
    const first = await joiner.api("POST", "/v1/links", { token, cost: 1 });
    expect(first.status).toBe(200);
    expect(first.json.link.state).toBe("up");

    const second = await latecomer.api("POST", "/v1/links", { token, cost: 1 });

    expect(second.status).toBeGreaterThanOrEqual(400);
    expect(second.status).toBeLessThan(500);
    expect(errorOf(second.json).code).toBe("ERR_CLAIM_FAILED");
    expect(errorOf(second.json).message).toMatch(/redeemed already.*one-time/);
    expect((await latecomer.status()).network?.links).toEqual([]);
    expect((await issuer.status()).network?.links.map((l) => l.peer)).toEqual(["joiner"]);
  });

  it("lets a token made for two sites (--uses 2) link two, and refuses a third", async () => {
    const token = await issueToken(issuer, { uses: 2 });
    const [two, three, four] = await Promise.all(["two", "three", "four"].map((n) => startSite(n)));
    onTestFinished(() => stopAll([two!, three!, four!]));
    for (const site of [two!, three!]) expect((await site.api("POST", "/v1/links", { token, cost: 1 })).status).toBe(200);
    const res = await four!.api("POST", "/v1/links", { token, cost: 1 });
    expect(res.status).toBe(403);
    expect(errorOf(res.json).message).toMatch(/redeemed already, by two at .*, three at .*: it was good for 2 links/);
  });

  it("refuses an expired token with ERR_TOKEN_EXPIRED", async () => {
    const token = await issueToken(issuer, { expiresInS: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_200));

    const res = await latecomer.api("POST", "/v1/links", { token, cost: 1 });

    expect(res.status).toBe(400);
    expect(errorOf(res.json).code).toBe("ERR_TOKEN_EXPIRED");
    expect((await latecomer.status()).network?.links).toEqual([]);
  });

  it("refuses a token whose secret was changed: the issuer never issued it", async () => {
    const token = await issueToken(issuer);
    const forged: LinkToken = { ...token, secret: `${token.secret.slice(0, -4)}${token.secret.endsWith("AAAA") ? "BBBB" : "AAAA"}` };

    const res = await latecomer.api("POST", "/v1/links", { token: forged, cost: 1 });

    expect(res.status).toBe(403);
    expect(errorOf(res.json).code).toBe("ERR_CLAIM_FAILED");
    expect(errorOf(res.json).message).toMatch(/never issued/);
    expect((await latecomer.status()).network?.links).toEqual([]);
  });

  it("refuses a second link between the same two sites, made from the other end", async () => {
    const token = await issueToken(joiner);
    const res = await issuer.api("POST", "/v1/links", { token, cost: 1 });
    expect(res.status).toBe(409);
    expect(errorOf(res.json).code).toBe("ERR_LINK_EXISTS");
    expect((await issuer.status()).network?.links.filter((l) => l.peer === joiner.name)).toHaveLength(1);
  });

  it("lets only the CA's site admit a new site: a token of a member that joined cannot", async () => {
    expect((await joiner.status()).network?.holdsCa).toBe(false);

    const created = await joiner.api("POST", "/v1/tokens", {});
    expect(created.status).toBe(200);
    // Members issue tokens for links between members only: a newcomer's claim is refused.
    const res = await latecomer.api("POST", "/v1/links", { token: created.json.token, cost: 1 });
    expect(res.status).toBe(403);
    expect(errorOf(res.json).code).toBe("ERR_CLAIM_FAILED");
    expect(errorOf(res.json).message).toMatch(/ERR_NOT_CA/);
    expect((await latecomer.status()).network?.links).toEqual([]);
  });
});

describe("router links to a site's VAN port", () => {
  let hub: SiteHandle;

  beforeAll(async () => {
    hub = await startSite("hub");
  });
  afterAll(() => stopAll([hub]));

  /** An in-process router (id `id`) dialling hub's VAN port, with `tls` material or plain. */
  async function dialHub(id: string, tls: TlsMaterial | undefined): Promise<Router> {
    const config = parseRouterConfig({ EDGEFN_ROUTER_LISTEN: "127.0.0.1:0", EDGEFN_ROUTER_ID: id });
    const router = await startRouter(config, undefined, tls === undefined ? {} : { tls: { listen: { host: "127.0.0.1", port: 0 }, material: tls } });
    onTestFinished(() => router.close());
    router.addLink({ host: "127.0.0.1", port: hub.vanPort, cost: 1, peer: "hub" });
    return router;
  }

  /** Watches the router's link to hub for `ms`: it must never come up; returns its last state. */
  async function neverUp(router: Router, ms: number): Promise<LinkState> {
    const until = Date.now() + ms;
    let last: LinkState | undefined;
    while (Date.now() < until) {
      last = router.links().find((l) => l.peer === "hub");
      expect(last?.state).toBe("down");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return last!;
  }

  async function hubDoesNotKnow(id: string): Promise<void> {
    const network = (await hub.status()).network!;
    expect(network.links.map((l) => l.peer)).not.toContain(id);
    expect(network.sites.map((s) => s.site)).not.toContain(id);
  }

  /** The CA material of hub's network, read from its site directory. */
  async function hubCa(): Promise<pki.KeyPair> {
    const dir = join(hub.dir, "state", "network");
    return { certPem: await readFile(join(dir, "ca.crt"), "utf8"), keyPem: await readFile(join(dir, "ca.key"), "utf8") };
  }

  it("refuses a router whose certificate is of another network's CA", async () => {
    const otherCa = await pki.createNetworkCa({ network: "elsewhere" });
    const own = await pki.issueOwnCert({ ca: otherCa, site: "stranger", trust: "trusted" });
    const router = await dialHub("stranger", { ca: otherCa.certPem, cert: own.certPem, key: own.keyPem });

    const link = await neverUp(router, 2_000);

    expect(link.error).toBeTruthy();
    expect(link.error).not.toBe("connecting");
    expect(router.neighbours()).toEqual([]);
    await hubDoesNotKnow("stranger");
  });

  it("refuses a router that dials in plaintext (no TLS handshake)", async () => {
    const router = await dialHub("plain", undefined);

    const link = await neverUp(router, 2_000);

    expect(link.error).toBeTruthy();
    expect(router.neighbours()).toEqual([]);
    await hubDoesNotKnow("plain");
  });

  it("refuses a certificate of the right CA naming another site than the router claims to be", async () => {
    const mallory = await pki.issueOwnCert({ ca: await hubCa(), site: "mallory", trust: "trusted" });
    const material = { ca: (await hubCa()).certPem, cert: mallory.certPem, key: mallory.keyPem };
    const impostor = await dialHub("someone-else", material);

    const link = await neverUp(impostor, 2_000);

    expect(link.error).toMatch(/mallory/);
    await hubDoesNotKnow("someone-else");

    // Control: the same certificate, with the name it carries, is let in.
    const honest = await dialHub("mallory", material);
    await eventually(async () => honest.links().some((l) => l.peer === "hub" && l.state === "up"), 5_000, "mallory's link to hub up");
    await eventually(async () => (await hub.status()).network!.links.some((l) => l.peer === "mallory" && l.state === "up"), 5_000, "hub lists mallory");
  });
});

describe("an untrusted site on the VAN", () => {
  let cloud: SiteHandle;
  let edge1: SiteHandle;
  let u: SiteHandle;

  beforeAll(async () => {
    [cloud, edge1, u] = await Promise.all([startSite("cloud"), startSite("edge-1"), startSite("u", { trust: "untrusted" })]);
    await linkSites(edge1, cloud, 5);
    await linkSites(u, cloud, 1, { trust: "untrusted", grants: ["api", "caller"] });

    await edge1.deploy(await inlineFunction("hello", ANSWER("hello")));
    await u.deploy(await inlineFunction("hello", ANSWER("hijacked hello")));
    // u sees its own hello before it deploys api: an advertisement of u with api has hello too.
    await waitServed(u, "hello", "u");
    await u.deploy(await inlineFunction("api", ANSWER("api")));
    await waitServed(cloud, "hello", "edge-1");
    await waitServed(cloud, "api", "u");
  });
  afterAll(() => stopAll([cloud, edge1, u]));

  it("cannot take over a trusted site's function by being nearer: hello stays at edge-1", async () => {
    const servedBy: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${cloud.url}/hello/`, { signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("hello at edge-1");
      servedBy.push(res.headers.get("x-edgefn-site") ?? "none");
    }
    expect(new Set(servedBy)).toEqual(new Set(["edge-1"]));
  });

  it("serves what it was granted: api from cloud's ingress is answered at u", async () => {
    const res = await fetch(`${cloud.url}/api/`, { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-edgefn-site")).toBe("u");
    expect(await res.text()).toBe("api at u");
  });

  it("is shown untrusted, serving only its grants, by the sites that hear of it", async () => {
    for (const viewer of [cloud, edge1]) {
      const at = (await viewer.status()).network!.sites.find((s) => s.site === "u");
      expect(at?.trust, `u as ${viewer.name} sees it`).toBe("untrusted");
      expect(at?.functions, `u's functions as ${viewer.name} sees them`).toEqual(["api"]);
    }
    const link = (await cloud.status()).network!.links.find((l) => l.peer === "u");
    expect(link).toMatchObject({ state: "up", trust: "untrusted" });
    expect((await u.status()).network).toMatchObject({ trust: "untrusted", holdsCa: false, grants: ["api", "caller"] });
  });

  it("refuses a function with spec.placement.trust: trusted (403 ERR_PLACEMENT)", async () => {
    const deployment = await inlineFunction("vault", ANSWER("vault"), { placement: { trust: "trusted" } });

    const res = await u.api("PUT", "/v1/functions/vault", deployment);

    expect(res.status).toBe(403);
    expect(errorOf(res.json).code).toBe("ERR_PLACEMENT");
    expect((await u.status()).functions.map((f) => f.name)).not.toContain("vault");
  });

  describe("callers it names are not believed", () => {
    beforeAll(async () => {
      const secret = await inlineFunction("secret-fn", ANSWER("secret"), { access: { public: false, callers: ["caller"] } });
      await edge1.deploy(secret);
      const caller = await inlineFunction("caller", CALLER_SOURCE, { services: { SECRET: "secret-fn" } });
      await Promise.all([u.deploy(caller), cloud.deploy(caller)]);
      await waitServed(cloud, "secret-fn", "edge-1");
      await waitServed(u, "secret-fn", "edge-1");
    });

    it("lets caller at a trusted site (cloud) call secret-fn at edge-1", async () => {
      const res = await fetch(`${cloud.url}/caller/`, { signal: AbortSignal.timeout(15_000) });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-edgefn-site")).toBe("cloud");
      expect(await res.json()).toEqual({ status: 200, site: "edge-1", body: "secret at edge-1" });
    });

    // Two hops (u -> cloud -> edge-1): the origin cloud's router stamped must survive the hop.
    it("answers 403 to the same caller at the untrusted site u: its name counts for nothing", async () => {
      const res = await fetch(`${u.url}/caller/`, { signal: AbortSignal.timeout(15_000) });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-edgefn-site")).toBe("u");
      const answer = (await res.json()) as { status: number; site: string | null; body: string };
      expect(answer.status).toBe(403);
      expect(answer.site).toBe("edge-1");
      expect(errorOf(JSON.parse(answer.body)).code).toBe("ERR_NOT_PUBLIC");
    });

    it("keeps secret-fn off the ingress everywhere (public: false)", async () => {
      const res = await fetch(`${cloud.url}/secret-fn/`, { signal: AbortSignal.timeout(15_000) });
      expect(res.status).toBe(403);
    });
  });
});
