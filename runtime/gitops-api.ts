/**
 * The GitOps part of the control API (runtime/control.ts), as the cli reads it: a site pulls
 * its functions from a git repository (the agent is cli/gitops/agent.ts, run inside the site
 * process by cli/site-main.ts). Leaf module (zod only), shared by runtime/ and cli/.
 *
 *   PUT    /v1/gitops          GitopsAttach   -> { gitops: GitopsStatus, webhook: WebhookInfo }  (the webhook token is shown once)
 *   GET    /v1/gitops                         -> { gitops: GitopsStatus }
 *   POST   /v1/gitops/sync                    -> { gitops: GitopsStatus }   (fetches and applies now; waits)
 *   DELETE /v1/gitops                         -> { detached: true }         (functions stay as they are)
 *   POST   /v1/gitops/webhook                 -> 202 { accepted: true }     (no bearer token: the webhook token is
 *                                                the credential: `Authorization: Bearer`, `X-Gitlab-Token`, or a
 *                                                GitHub/Gitea `X-Hub-Signature-256` HMAC of the body)
 */
import { z } from "zod";
import { DigestSchema, FunctionNameSchema, SecretNameSchema, type Deployment, type FunctionInfo, type Priority, type SiteInfo } from "./manifest.ts";
import type { Trust } from "./network-api.ts";

/** Shortest and longest poll interval. */
export const GITOPS_MIN_INTERVAL_S = 1;
export const GITOPS_MAX_INTERVAL_S = 24 * 3600;

/** A branch name as git allows it (git check-ref-format, the common part). */
export const BranchSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^(?!\/|.*\/\/|.*\.\.|.*\/$|.*\.lock$|.*@\{)[^\s~^:?*[\\\x00-\x1f\x7f]+$/, "must be a git branch name, e.g. main");

/** A folder inside the repository: relative, no `..`. */
export const RepoPathSchema = z
  .string()
  .min(1)
  .max(500)
  .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must be a folder inside the repository (relative, no ..), e.g. . or fleet/prod")
  .transform((p) => p.replace(/^\.\/?/, "").replace(/\/+$/, "") || ".");

/** `https://…`, `http://…`, or an absolute path to a local repository (bare or not). */
export const RepoUrlSchema = z
  .string()
  .min(1)
  .max(2000)
  .refine((r) => /^https?:\/\/[^\s]+$/.test(r) || r.startsWith("/"), "must be an http(s) URL or an absolute path to a local git repository")
  .refine((r) => !/^https?:\/\/[^/]*@/.test(r), "must not carry credentials in the URL: pass the token with --git-token-file");

export const GitopsAttachSchema = z
  .object({
    repo: RepoUrlSchema,
    branch: BranchSchema.default("main"),
    path: RepoPathSchema.default("."),
    intervalS: z.number().int().min(GITOPS_MIN_INTERVAL_S).max(GITOPS_MAX_INTERVAL_S).default(30),
    /** Remove functions this agent applied once they leave the repository (or this site's placement). */
    prune: z.boolean().default(true),
    /** Token for an http(s) remote (sent as HTTP basic auth, as GitHub, GitLab and Gitea take it). Never returned. */
    gitToken: z.string().min(1).max(4096).optional(),
    /** User name sent with the token; most servers ignore it. */
    gitUsername: z.string().min(1).max(200).default("edgefn"),
  })
  .strict();
export type GitopsAttach = z.input<typeof GitopsAttachSchema>;
export type GitopsConfig = z.output<typeof GitopsAttachSchema>;

/** idle: nothing applied yet; synced: at the branch's commit; failed: its commit did not apply; offline: remote unreachable. */
export const GITOPS_STATES = ["idle", "synced", "failed", "offline"] as const;

export const CommitInfoSchema = z.object({
  commit: z.string().regex(/^[0-9a-f]{40}$/),
  /** First line of the commit message. */
  message: z.string(),
  /** When the commit was made (committer time). */
  committedAt: z.string(),
});
export type CommitInfo = z.output<typeof CommitInfoSchema>;

/** Why the newest commit was not applied: the commit, the file (repository path) and the error. */
export const GitopsErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
  commit: z.string().optional(),
  /** Path inside the repository, e.g. functions/hello/edgefn.yaml. */
  file: z.string().optional(),
  at: z.string(),
});
export type GitopsError = z.output<typeof GitopsErrorSchema>;

export const FUNCTION_RESULTS = ["deployed", "unchanged", "removed", "failed"] as const;

export const GitopsFunctionSchema = z.object({
  name: FunctionNameSchema,
  /** The manifest's path in the repository. */
  file: z.string(),
  result: z.enum(FUNCTION_RESULTS),
  version: z.number().int().positive().optional(),
  digest: DigestSchema.optional(),
  /** The commit this function's current version came from. */
  commit: z.string().optional(),
  secrets: z.array(SecretNameSchema).default([]),
});
export type GitopsFunction = z.output<typeof GitopsFunctionSchema>;

export const GitopsStatusSchema = z.object({
  site: z.string(),
  attached: z.boolean(),
  repo: z.string().optional(),
  branch: z.string().optional(),
  path: z.string().optional(),
  intervalS: z.number().optional(),
  prune: z.boolean().optional(),
  state: z.enum(GITOPS_STATES),
  /** A fetch (and maybe an apply) is running now; `state` is the outcome of the one before. */
  syncing: z.boolean(),
  /** The commit the site serves (every function at its last good version). */
  applied: CommitInfoSchema.extend({ appliedAt: z.string() }).nullable(),
  /** The newest commit fetched from the remote (may be ahead of `applied` when it failed). */
  fetched: CommitInfoSchema.extend({ fetchedAt: z.string() }).nullable(),
  /** The remote has been unreachable since then (the site serves what it has). */
  offlineSince: z.string().nullable(),
  lastCheckAt: z.string().nullable(),
  nextCheckAt: z.string().nullable(),
  error: GitopsErrorSchema.nullable(),
  /** Functions from the repository placed on this site, as of the applied commit. */
  functions: z.array(GitopsFunctionSchema),
  /** Functions in the repository left out here, and why (placement). */
  skipped: z.array(z.object({ name: FunctionNameSchema, file: z.string(), reason: z.string() })),
  /** The webhook's path on the control listener. */
  webhookPath: z.string().optional(),
});
export type GitopsStatus = z.output<typeof GitopsStatusSchema>;

export const WebhookInfoSchema = z.object({
  path: z.string(),
  /** Shown once, at attach: the site keeps only its hash. */
  token: z.string(),
});
export type WebhookInfo = z.output<typeof WebhookInfoSchema>;

/**
 * What the site process offers the control API when it runs a GitOps agent (cli/site-main.ts
 * does). Errors are RuntimeErrors (code, status, hint) or plain errors (500).
 */
export interface GitopsAgent {
  attach(config: GitopsConfig): Promise<{ gitops: GitopsStatus; webhook: WebhookInfo }>;
  detach(): Promise<void>;
  status(): GitopsStatus;
  /** Fetches and applies now; resolves with the status after that sync. */
  sync(): Promise<GitopsStatus>;
  /** Checks the webhook credential on the request (headers and raw body); true: a sync was started. */
  webhook(headers: Headers, body: Uint8Array): boolean;
  close(): Promise<void>;
}

/** The site as the agent changes it (runtime/site.ts): every change verified, then durable. */
export interface GitopsSite {
  info(): SiteInfo;
  list(): FunctionInfo[];
  /** Verify in the isolate host, then switch; the same bundle and manifest again changes nothing. */
  deploy(deployment: Deployment): Promise<FunctionInfo>;
  rollback(name: string, version?: number): Promise<FunctionInfo>;
  remove(name: string): Promise<void>;
  putSecret(name: string, secret: string, value: string): Promise<void>;
  removeSecret(name: string, secret: string): Promise<void>;
}

/** The slice of the site's logger (pino) the agent uses. */
export interface GitopsLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** What the site process hands the agent's factory. */
export interface GitopsContext {
  site: GitopsSite;
  /** The site directory (EDGEFN_STATE_DIR): the agent keeps its state in <dir>/state/gitops and reads keys/site.key. Unset: no GitOps. */
  siteDir: string | undefined;
  siteName: string;
  trust: () => Trust;
  /** Only functions of this priority run here (EDGEFN_PRIORITY_TIER); unset: all. */
  tier: Priority | undefined;
  logger: GitopsLogger;
}

export type GitopsAgentFactory = (context: GitopsContext) => Promise<GitopsAgent>;
