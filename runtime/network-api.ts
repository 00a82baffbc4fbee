/**
 * The VAN part of the control API (runtime/control.ts), as the cli reads it: link tokens,
 * links between sites, and the status of the network as one site sees it. Leaf module (zod
 * only), shared by runtime/ and cli/.
 *
 *   POST   /v1/tokens   TokenRequest  -> { token: LinkToken }       (only the site holding the network CA)
 *   POST   /v1/claims   Claim         -> ClaimResult                (no bearer token: the token's secret is the credential)
 *   POST   /v1/links    LinkRequest   -> { link: LinkInfo }         (redeems the token at its issuer, then dials it)
 *   GET    /v1/links                  -> { links: LinkInfo[] }
 *   DELETE /v1/links/:peer            -> { removed: peer }
 *   GET    /v1/status                 -> SiteStatus
 */
import { z } from "zod";
import { GitopsStatusSchema } from "./gitops-api.ts";
import { FunctionNameSchema, PRIORITIES } from "./manifest.ts";

export const TRUST = ["trusted", "untrusted"] as const;
export const TrustSchema = z.enum(TRUST);
export type Trust = z.output<typeof TrustSchema>;

/** Site names are DNS-1123 labels (they are router ids and certificate names too). */
export const SiteNameSchema = FunctionNameSchema;

export const HostPortSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s@,]+):\d{1,5}$/, "must be host:port, e.g. 10.0.0.2:5671")
  .refine((s) => Number(s.slice(s.lastIndexOf(":") + 1)) <= 65535, "port must be 1-65535");

/** Longest a token may live: a week. Default: 15 minutes. */
export const TOKEN_MAX_TTL_S = 7 * 24 * 3600;
export const TOKEN_DEFAULT_TTL_S = 15 * 60;

export const TokenRequestSchema = z
  .object({
    /** Seconds until the token expires. */
    expiresInS: z.number().int().min(1).max(TOKEN_MAX_TTL_S).default(TOKEN_DEFAULT_TTL_S),
    /** How many links it may make (one site each); one-time by default. */
    uses: z.number().int().min(1).max(100).default(1),
    /** The most trust the redeeming site gets: `untrusted` makes it untrusted whatever it claims. */
    trust: TrustSchema.default("trusted"),
    /** Functions an untrusted site may serve (attach receivers for). Ignored for trusted sites. */
    grants: z.array(FunctionNameSchema).default([]),
    /** Where the redeeming site reaches this one's control API, as the cli reached it. */
    claimUrl: z.url().optional(),
    /** Where other sites reach this one's VAN listener (host:port); default its listen address. */
    vanAddress: HostPortSchema.optional(),
  })
  .strict();
export type TokenRequest = z.input<typeof TokenRequestSchema>;

/** A one-time link token, as `edgefn token create` prints it and `edgefn link create` reads it. */
export const LinkTokenSchema = z
  .object({
    kind: z.literal("edgefn-link-token"),
    version: z.literal(1),
    /** The network's id (its CA's name). */
    network: z.string().min(1),
    /** The site that issued it: the peer the new link goes to. */
    issuer: SiteNameSchema,
    /** The issuer's VAN listener. */
    van: HostPortSchema,
    /** POST here to redeem it. */
    claimUrl: z.url(),
    /** The one-time secret (base64url). */
    secret: z.string().regex(/^[A-Za-z0-9_-]{32,}$/, "must be a base64url secret"),
    expiresAt: z.iso.datetime(),
    /** The network CA's certificate (PEM): the linking site trusts only certificates it signed. */
    ca: z.string().includes("BEGIN CERTIFICATE"),
  })
  .strict();
export type LinkToken = z.output<typeof LinkTokenSchema>;

/** Body of `POST /v1/claims`: a site redeeming a token. */
export const ClaimSchema = z
  .object({
    secret: z.string().min(1),
    site: SiteNameSchema,
    /** What the site says it is (`site init --untrusted`); the token may lower it, never raise it. */
    trust: TrustSchema,
    /** PKCS#10 request for the site's certificate; absent when the site is already in this network. */
    csr: z.string().includes("BEGIN CERTIFICATE REQUEST").optional(),
  })
  .strict();
export type Claim = z.output<typeof ClaimSchema>;

export const ClaimResultSchema = z.object({
  network: z.string(),
  issuer: SiteNameSchema,
  ca: z.string(),
  /** The site's certificate, signed by the network CA (when a csr was sent). */
  cert: z.string().optional(),
  trust: TrustSchema,
  grants: z.array(FunctionNameSchema),
});
export type ClaimResult = z.output<typeof ClaimResultSchema>;

export const LinkRequestSchema = z
  .object({
    token: LinkTokenSchema,
    /** Cost of the link: path cost is the sum of link costs; the cheapest able site serves. */
    cost: z.number().positive().max(1_000_000).default(1),
  })
  .strict();
export type LinkRequest = z.input<typeof LinkRequestSchema>;

export const LinkInfoSchema = z.object({
  /** The site at the other end. */
  peer: SiteNameSchema,
  /** host:port this site dials, or null when the peer dialled us. */
  address: z.string().nullable(),
  cost: z.number(),
  /** `up`: the connection is open both ways and authenticated. */
  state: z.enum(["up", "down"]),
  trust: TrustSchema.nullable(),
  /** Last failure of the connection (TLS refused, unreachable, …), when down. */
  error: z.string().nullable(),
});
export type LinkInfo = z.output<typeof LinkInfoSchema>;

/** One site of the network as this one sees it (from the routers' link-state database). */
export const RemoteSiteSchema = z.object({
  site: z.string(),
  /** Path cost from here (0: this site). */
  cost: z.number(),
  /** The neighbour calls to it go through (null: this site). */
  via: z.string().nullable(),
  trust: TrustSchema.nullable(),
  /** Functions it serves now (consumers attached). */
  functions: z.array(z.string()),
});

export const SiteStatusSchema = z.object({
  site: z.string(),
  region: z.string(),
  ingressUrl: z.string(),
  /** null: this site has no VAN (started without --van). */
  network: z
    .object({
      id: z.string(),
      /** This site holds the network CA, so it can issue tokens. */
      holdsCa: z.boolean(),
      trust: TrustSchema,
      grants: z.array(z.string()),
      caFingerprint: z.string(),
      listen: z.string(),
      links: z.array(LinkInfoSchema),
      sites: z.array(RemoteSiteSchema),
    })
    .nullable(),
  functions: z.array(z.object({ name: z.string(), version: z.number(), priority: z.enum(PRIORITIES), attached: z.boolean() })),
  /**
   * How saturated the site's isolates are (1 = its CPUs fully used), and the priorities it
   * admits fewer of now (limit = requests in flight admitted at most). Absent from older sites.
   */
  load: z
    .object({
      pressure: z.number(),
      isolateCpu: z.number(),
      lagMs: z.number(),
      shedding: z.array(z.enum(PRIORITIES)),
      limits: z.partialRecord(z.enum(PRIORITIES), z.number()),
    })
    .optional(),
  /** Where the site pulls its functions from, when attached (`edgefn gitops status` has the rest). */
  gitops: GitopsStatusSchema.pick({ repo: true, branch: true, state: true, applied: true, offlineSince: true, error: true }).optional(),
});
export type SiteStatus = z.output<typeof SiteStatusSchema>;
