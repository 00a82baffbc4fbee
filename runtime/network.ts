/**
 * A site's place in the VAN (DESIGN.md "The VAN", "Security"): its network identity, the link
 * tokens it issued, its links to other sites, and the router that carries them.
 *
 * A site started with a VAN listener and no network yet founds one: a new network CA, and its
 * own certificate from it. Other sites join by redeeming a one-time token the CA's site issued
 * (`POST /v1/claims` there, with a certificate request): they get a certificate of that network
 * and the link dials the issuer over mutual TLS. Members link to each other with a token of
 * either end (no certificate then: the mutual TLS of the link proves membership). Every change is on disk before the answer
 * (under `<state>/network/`; in memory without a state dir):
 *
 *   network.json  NetworkStateSchema: network id, trust, grants, links, tokens (hashes), issued names
 *   ca.crt        the network CA's certificate
 *   ca.key        its key: only on the site that founded the network (it issues tokens), 0600
 *   site.crt      this site's certificate, signed by the network CA
 *   site.key      its key, 0600
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { Router, TlsMaterial } from "../router/index.ts";
import * as pki from "../router/pki.ts";
import { RuntimeError } from "./errors.ts";
import type { Logger } from "./log.ts";
import {
  ClaimResultSchema, ClaimSchema, LinkRequestSchema, TrustSchema,
  type ClaimResult, type LinkInfo, type LinkToken, type SiteStatus, type Trust,
} from "./network-api.ts";
import { writeAtomic } from "./atomic-file.ts";

const StoredLinkSchema = z.object({ peer: z.string(), host: z.string(), port: z.number().int(), cost: z.number().positive() });
const StoredTokenSchema = z.object({
  /** sha256 of the secret, hex: the secret itself is never stored. */
  hash: z.string(),
  expiresAt: z.iso.datetime(),
  trust: TrustSchema,
  grants: z.array(z.string()),
  /** Links it may make; each redemption spends one. */
  uses: z.number().int().positive().default(1),
  /** The sites that redeemed it, and when. */
  used: z.array(z.object({ site: z.string(), at: z.iso.datetime() })).default([]),
});
const NetworkStateSchema = z.object({
  network: z.string(),
  trust: TrustSchema,
  /** Addresses this site may serve when untrusted (from its certificate). */
  grants: z.array(z.string()),
  links: z.array(StoredLinkSchema),
  tokens: z.array(StoredTokenSchema),
  /** Sites given a certificate of this network (by the CA site), this one included. */
  issued: z.array(z.object({ site: z.string(), trust: TrustSchema, at: z.iso.datetime() })),
});
type NetworkState = z.output<typeof NetworkStateSchema>;

/** How long `link create` waits for the new link to come up before it answers. */
const LINK_UP_WAIT_MS = 5_000;
const CLAIM_TIMEOUT_MS = 10_000;

interface Material {
  caCert: string;
  caKey: string | undefined;
  cert: string;
  key: string;
}

export interface NetworkOptions {
  /** The site directory (EDGEFN_STATE_DIR); undefined keeps everything in memory. */
  dir: string | undefined;
  site: string;
  /** What the site was started as (`site init --untrusted`). */
  trust: Trust;
  logger: Logger;
}

export class Network {
  readonly site: string;
  readonly #dir: string | undefined;
  readonly #log: Logger;
  #state: NetworkState;
  #material: Material;
  #router: Router | undefined;
  /** Claims and link changes run one at a time: a token is redeemed once, state writes do not interleave. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(opts: NetworkOptions, state: NetworkState, material: Material) {
    this.site = opts.site;
    this.#dir = networkDir(opts.dir);
    this.#log = opts.logger.child({ scope: "runtime:network" });
    this.#state = state;
    this.#material = material;
  }

  /** Loads the site's network, or founds a new one (a CA of its own) when it has none. */
  static async open(opts: NetworkOptions): Promise<Network> {
    const dir = networkDir(opts.dir);
    if (dir !== undefined) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const stored = await readFile(join(dir, "network.json"), "utf8").catch(() => undefined);
      if (stored !== undefined) {
        const state = parseState(stored, join(dir, "network.json"));
        const read = (file: string) => readFile(join(dir, file), "utf8");
        const material: Material = {
          caCert: await read("ca.crt"),
          caKey: await read("ca.key").catch(() => undefined),
          cert: await read("site.crt"),
          key: await read("site.key"),
        };
        return new Network(opts, state, material);
      }
    }
    const networkId = `${opts.site}-${randomBytes(4).toString("hex")}`;
    const ca = await pki.createNetworkCa({ network: networkId });
    const own = await pki.issueOwnCert({ ca, site: opts.site, trust: opts.trust });
    const now = new Date().toISOString();
    const state: NetworkState = { network: networkId, trust: opts.trust, grants: [], links: [], tokens: [], issued: [{ site: opts.site, trust: opts.trust, at: now }] };
    const network = new Network(opts, state, { caCert: ca.certPem, caKey: ca.keyPem, cert: own.certPem, key: own.keyPem });
    await network.#saveMaterial();
    await network.#save();
    network.#log.info({ network: networkId }, "founded a new network: this site holds its CA");
    return network;
  }

  get id(): string {
    return this.#state.network;
  }

  get trust(): Trust {
    return this.#state.trust;
  }

  tls(): TlsMaterial {
    return { ca: this.#material.caCert, cert: this.#material.cert, key: this.#material.key };
  }

  /** Gives the network its router: the stored links are dialled. */
  attach(router: Router): void {
    this.#router = router;
    for (const link of this.#state.links) router.addLink(link);
  }

  /**
   * A one-time token another site redeems to link to this one (`edgefn token create`). Any site
   * issues them for links between members; only the CA's site can let a new site join with one.
   */
  issueToken(opts: { expiresInS: number; uses: number; trust: Trust; grants: string[]; claimUrl: string; vanAddress: string }): Promise<LinkToken> {
    return this.#serially(async () => {
      const secret = randomBytes(32).toString("base64url");
      const expiresAt = new Date(Date.now() + opts.expiresInS * 1000).toISOString();
      const grants = opts.grants.map((name) => `fn/${name}`);
      this.#state = { ...this.#state, tokens: [...this.#live(this.#state.tokens), { hash: hashOf(secret), expiresAt, uses: opts.uses, used: [], trust: opts.trust, grants }] };
      await this.#save();
      this.#log.info({ expiresAt, uses: opts.uses, trust: opts.trust, grants }, "link token issued");
      return {
        kind: "edgefn-link-token",
        version: 1,
        network: this.id,
        issuer: this.site,
        van: opts.vanAddress,
        claimUrl: opts.claimUrl,
        secret,
        expiresAt,
        ca: this.#material.caCert,
      } satisfies LinkToken;
    });
  }

  /** `POST /v1/claims`: another site redeems a token; it gets a certificate of this network. */
  redeem(input: unknown): Promise<ClaimResult> {
    return this.#serially(async () => {
      const claim = ClaimSchema.safeParse(input);
      if (!claim.success) {
        throw new RuntimeError("ERR_TOKEN_INVALID", "the claim is not valid", { status: 400, issues: claim.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) });
      }
      const { secret, site, csr } = claim.data;
      const hash = hashOf(secret);
      const token = this.#state.tokens.find((t) => timingSafeEqual(Buffer.from(t.hash, "hex"), Buffer.from(hash, "hex")));
      const fresh = "ask for a new one: `edgefn token create` on the issuing site";
      if (token === undefined) throw new RuntimeError("ERR_TOKEN_INVALID", `site ${this.site} never issued this token (or has forgotten it)`, { status: 401, hint: fresh });
      if (token.used.length >= token.uses) {
        const by = token.used.map((u) => `${u.site} at ${u.at}`).join(", ");
        const what = token.uses === 1 ? "tokens are one-time" : `it was good for ${token.uses} links`;
        throw new RuntimeError("ERR_TOKEN_USED", `this token was redeemed already, by ${by}: ${what}`, { status: 401, hint: fresh });
      }
      if (Date.parse(token.expiresAt) <= Date.now()) throw new RuntimeError("ERR_TOKEN_EXPIRED", `this token expired at ${token.expiresAt}`, { status: 401, hint: fresh });
      if (site === this.site) throw new RuntimeError("ERR_LINK_SELF", `a site cannot link to itself (${site})`, { status: 400 });
      const trust: Trust = claim.data.trust === "untrusted" || token.trust === "untrusted" ? "untrusted" : "trusted";
      const grants = trust === "untrusted" ? token.grants : [];
      let cert: string | undefined;
      if (csr !== undefined) {
        if (this.#material.caKey === undefined) {
          throw new RuntimeError("ERR_NOT_CA", `site ${site} is not in network ${this.id} yet, and ${this.site} cannot let it join: it does not hold the network's CA`, {
            status: 409,
            hint: "join with a token of the site that holds the CA (`edgefn status` there says so); then tokens of any site link it further",
          });
        }
        const held = this.#state.issued.find((i) => i.site === site);
        if (held !== undefined) {
          throw new RuntimeError("ERR_SITE_NAME_TAKEN", `network ${this.id} has a site named ${site} already (since ${held.at})`, {
            status: 409,
            hint: "give the new site another name (`edgefn site init <dir> --name <other>`)",
          });
        }
        try {
          cert = await pki.issueSiteCert({ ca: { certPem: this.#material.caCert, keyPem: this.#material.caKey }, csrPem: csr, site, trust, grants });
        } catch (error) {
          if (error instanceof pki.PkiError) throw new RuntimeError("ERR_TOKEN_INVALID", error.message, { status: 400, hint: error.hint });
          throw error;
        }
      }
      const now = new Date().toISOString();
      this.#state = {
        ...this.#state,
        tokens: this.#state.tokens.map((t) => (t === token ? { ...t, used: [...t.used, { site, at: now }] } : t)),
        issued: cert === undefined ? this.#state.issued : [...this.#state.issued, { site, trust, at: now }],
      };
      await this.#save(); // spent on disk before the certificate leaves
      this.#log.info({ site, trust, grants, certificate: cert !== undefined }, "link token redeemed");
      return { network: this.id, issuer: this.site, ca: this.#material.caCert, cert, trust, grants: grants.map((a) => a.replace(/^fn\//, "")) };
    });
  }

  /** `POST /v1/links`: redeems the token at its issuer (joining its network if need be), then dials it. */
  link(input: unknown): Promise<LinkInfo> {
    return this.#serially(async () => {
      const parsed = LinkRequestSchema.safeParse(input);
      if (!parsed.success) {
        throw new RuntimeError("ERR_TOKEN_INVALID", "the link request is not valid", { status: 400, issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) });
      }
      const { token, cost } = parsed.data;
      if (token.issuer === this.site) throw new RuntimeError("ERR_LINK_SELF", `this token was issued by ${this.site} itself: a site cannot link to itself`, { status: 400, hint: "redeem it on another site (--site)" });
      if (Date.parse(token.expiresAt) <= Date.now()) {
        throw new RuntimeError("ERR_TOKEN_EXPIRED", `this token expired at ${token.expiresAt}`, { status: 400, hint: `ask for a new one: \`edgefn token create\` on ${token.issuer}` });
      }
      if (this.links().some((l) => l.peer === token.issuer && l.address === null)) {
        throw new RuntimeError("ERR_LINK_EXISTS", `${token.issuer} has a link to ${this.site} already (it dialled this site): one link per pair of sites`, {
          status: 409,
          hint: `to change its cost, remove it at ${token.issuer} (\`edgefn link rm ${this.site}\`) and link again from either end`,
        });
      }
      const joining = token.network !== this.id;
      if (joining && (this.#state.links.length > 0 || this.#state.issued.length > 1)) {
        throw new RuntimeError("ERR_OTHER_NETWORK", `site ${this.site} is in network ${this.id} already (it has links or linked sites), and this token is for network ${token.network}`, {
          status: 409,
          hint: "a site belongs to one network: link it with a token of its own network, or start a fresh site for the other one",
        });
      }
      const fresh = joining ? await pki.createKeyAndCsr({ site: this.site }) : undefined;
      const result = await claimAt(token, { secret: token.secret, site: this.site, trust: this.#state.trust, ...(fresh === undefined ? {} : { csr: fresh.csrPem }) });
      if (fresh !== undefined) {
        if (result.cert === undefined || !pki.issuedBy(result.cert, token.ca) || pki.identityOfCert(result.cert)?.site !== this.site) {
          throw new RuntimeError("ERR_CLAIM_FAILED", `${token.issuer} answered the claim without a valid certificate for ${this.site} from the token's CA`, { status: 502 });
        }
        this.#material = { caCert: token.ca, caKey: undefined, cert: result.cert, key: fresh.keyPem };
        this.#state = { ...this.#state, network: token.network, trust: result.trust, grants: result.grants.map((n) => `fn/${n}`), tokens: [], issued: [] };
        await this.#saveMaterial();
        this.#log.info({ network: token.network, trust: result.trust }, "joined the network");
      }
      const [host, port] = splitHostPort(token.van);
      const link = { peer: token.issuer, host, port, cost };
      this.#state = { ...this.#state, links: [...this.#state.links.filter((l) => l.peer !== link.peer), link] };
      await this.#save();
      if (fresh !== undefined) this.#router?.setTls(this.tls());
      this.#router?.addLink(link);
      return this.#waitUp(link.peer);
    });
  }

  /** `DELETE /v1/links/:peer`. */
  unlink(peer: string): Promise<void> {
    return this.#serially(async () => {
      if (!this.#state.links.some((l) => l.peer === peer)) {
        throw new RuntimeError("ERR_LINK_NOT_FOUND", `site ${this.site} has no link to ${peer}`, { status: 404, hint: "`edgefn link ls` lists the links this site dials" });
      }
      this.#state = { ...this.#state, links: this.#state.links.filter((l) => l.peer !== peer) };
      await this.#save();
      this.#router?.removeLink(peer);
    });
  }

  links(): LinkInfo[] {
    return (this.#router?.links() ?? []).map((l) => ({ ...l, peer: l.peer ?? "unknown" }));
  }

  /** The `network` part of SiteStatus. */
  status(listen: string): NonNullable<SiteStatus["network"]> {
    const links = this.links();
    const neighbourTrust = new Map(links.map((l) => [l.peer, l.trust]));
    const sites = (this.#router?.routers() ?? []).map((r) => ({
      site: r.id,
      cost: r.cost,
      via: r.nextHop,
      trust: r.id === this.site ? this.trust : (neighbourTrust.get(r.id) ?? (r.transit ? "trusted" : "untrusted")),
      functions: r.addresses.map((a) => a.replace(/^fn\//, "")).sort(),
    }));
    return {
      id: this.id,
      holdsCa: this.#material.caKey !== undefined,
      trust: this.trust,
      grants: this.#state.grants.map((a) => a.replace(/^fn\//, "")),
      caFingerprint: pki.fingerprint(this.#material.caCert),
      listen,
      links,
      sites,
    };
  }

  async #waitUp(peer: string): Promise<LinkInfo> {
    const until = Date.now() + LINK_UP_WAIT_MS;
    for (;;) {
      const link = this.links().find((l) => l.peer === peer);
      if (link !== undefined && (link.state === "up" || Date.now() >= until)) return link;
      if (Date.now() >= until) return { peer, address: null, cost: 0, state: "down", trust: null, error: "no router attached" };
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Tokens still worth keeping: unexpired, or spent within the last day (to say "used by"). */
  #live(tokens: NetworkState["tokens"]): NetworkState["tokens"] {
    const now = Date.now();
    return tokens.filter((t) => Date.parse(t.expiresAt) > now || t.used.some((u) => Date.parse(u.at) > now - 86_400_000));
  }

  #serially<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #save(): Promise<void> {
    if (this.#dir !== undefined) await writeAtomic(join(this.#dir, "network.json"), `${JSON.stringify(this.#state, null, 2)}\n`, 0o600);
  }

  async #saveMaterial(): Promise<void> {
    const dir = this.#dir;
    if (dir === undefined) return;
    await writeAtomic(join(dir, "ca.crt"), this.#material.caCert, 0o644);
    if (this.#material.caKey !== undefined) await writeAtomic(join(dir, "ca.key"), this.#material.caKey, 0o600);
    else await unlink(join(dir, "ca.key")).catch(() => undefined);
    await writeAtomic(join(dir, "site.key"), this.#material.key, 0o600);
    await writeAtomic(join(dir, "site.crt"), this.#material.cert, 0o644);
  }
}

/** Redeems `token` at its issuer's claim URL. */
async function claimAt(token: LinkToken, body: unknown): Promise<ClaimResult> {
  let response: Response;
  try {
    response = await fetch(token.claimUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(CLAIM_TIMEOUT_MS),
    });
  } catch (error) {
    throw new RuntimeError("ERR_CLAIM_FAILED", `could not reach ${token.issuer} at ${token.claimUrl} to redeem the token: ${(error as Error).message}`, {
      status: 502,
      hint: `check that ${token.issuer} is up and that this site can reach its control address (token create --site sets it)`,
      cause: error,
    });
  }
  const json: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const remote = (json as { error?: { code?: string; message?: string; hint?: string } } | undefined)?.error;
    throw new RuntimeError("ERR_CLAIM_FAILED", `${token.issuer} refused the token: ${remote?.message ?? `HTTP ${response.status}`}${remote?.code === undefined ? "" : ` (${remote.code})`}`, {
      status: response.status === 401 || response.status === 409 ? 403 : 502,
      hint: remote?.hint,
    });
  }
  const parsed = ClaimResultSchema.safeParse(json);
  if (!parsed.success) throw new RuntimeError("ERR_CLAIM_FAILED", `${token.issuer} answered the claim with something that is not a claim result`, { status: 502 });
  return parsed.data;
}

function hashOf(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at).replace(/^\[|\]$/g, ""), Number(address.slice(at + 1))];
}

function parseState(text: string, path: string): NetworkState {
  const result = NetworkStateSchema.safeParse(JSON.parse(text));
  if (!result.success) throw new Error(`site state file ${path} is not valid: ${z.prettifyError(result.error)}`);
  return result.data;
}

/** `<site>/state/network`, beside the functions' state (state.ts). */
function networkDir(siteDir: string | undefined): string | undefined {
  return siteDir === undefined ? undefined : join(siteDir, "state", "network");
}
