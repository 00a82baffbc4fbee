/**
 * The GitOps agent of a site process (cli/site-main.ts): pulls the attached repository every
 * interval (or at once, on the webhook or `edgefn gitops sync`), and applies each new commit
 * with apply-commit.ts. A commit that fails leaves the site at its last good commit and is not
 * tried again until a newer one arrives (or a sync is asked for), unless the site itself failed
 * (SITE_FAILURES): then each check retries it. An unreachable remote is
 * retried with backoff (1 s doubling, up to the interval) while the site serves what it has.
 *
 * Its files, under `<site-dir>/state/gitops/` (0600/0700, written atomically):
 *   config.json   the attach request (with the git token) and the webhook token
 *   state.json    the applied commit, the functions it manages, the last error
 *   cache/        the fetched repository (http remotes; a local path is read in place)
 *   checkout/     the tree of the commit being applied
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { writeAtomic } from "../../runtime/atomic-file.ts";
import { RuntimeError } from "../../runtime/errors.ts";
import {
  CommitInfoSchema,
  GitopsAttachSchema,
  GitopsErrorSchema,
  GitopsFunctionSchema,
  type CommitInfo,
  type GitopsAgent,
  type GitopsConfig,
  type GitopsContext,
  type GitopsError,
  type GitopsStatus,
} from "../../runtime/gitops-api.ts";
import { isCodedError } from "../errors.ts";
import { applyCommit, ManagedFunctionSchema, SkippedSchema } from "./apply-commit.ts";

const WEBHOOK_PATH = "/v1/gitops/webhook";
/** First retry after a failed fetch; doubles up to the interval. */
const FIRST_BACKOFF_MS = 1_000;
const FETCH_TIMEOUT_MS = 20_000;
/** Packages a repository does not vendor resolve from edgefn's own install (hono, zod, …). */
const NODE_PATHS = [fileURLToPath(new URL("../../node_modules", import.meta.url))];

/**
 * Failures of the site rather than of the commit (the isolate host died under the deploy, the
 * disk refused the state, a bug): the same commit may well apply at the next check.
 */
const SITE_FAILURES = new Set(["ERR_ISOLATE_CRASHED", "ERR_STATE_WRITE", "ERR_INTERNAL"]);

const StoredConfigSchema = GitopsAttachSchema.extend({ webhookToken: z.string().min(32) });
type StoredConfig = z.output<typeof StoredConfigSchema>;

const AgentStateSchema = z.object({
  applied: CommitInfoSchema.extend({ appliedAt: z.string() }).nullable(),
  fetched: CommitInfoSchema.extend({ fetchedAt: z.string() }).nullable(),
  /**
   * The newest commit that failed: not tried again until a newer one (or a sync), unless it
   * failed for a reason of the site's own (see SITE_FAILURES), when each check retries it.
   */
  failedCommit: z.string().nullable(),
  /** Why failedCommit was not applied. */
  commitError: GitopsErrorSchema.nullable(),
  /** Why the last fetch failed; null once one succeeds. */
  fetchError: GitopsErrorSchema.nullable(),
  offlineSince: z.string().nullable(),
  lastCheckAt: z.string().nullable(),
  managed: z.array(ManagedFunctionSchema),
  functions: z.array(GitopsFunctionSchema),
  skipped: z.array(SkippedSchema),
});
type AgentState = z.output<typeof AgentStateSchema>;

const EMPTY_STATE: AgentState = {
  applied: null,
  fetched: null,
  failedCommit: null,
  commitError: null,
  fetchError: null,
  offlineSince: null,
  lastCheckAt: null,
  managed: [],
  functions: [],
  skipped: [],
};

/** The factory cli/site-main.ts hands the runtime. */
export async function createGitopsAgent(context: GitopsContext): Promise<GitopsAgent> {
  const agent = new Agent(context);
  await agent.load();
  return agent;
}

class Agent implements GitopsAgent {
  readonly #ctx: GitopsContext;
  readonly #dir: string | undefined;
  #config: StoredConfig | undefined;
  #state: AgentState = EMPTY_STATE;
  #syncing: Promise<void> | undefined;
  /** A sync was asked for while one ran: run another right after. */
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #nextCheckAt: number | undefined;
  #failures = 0;
  #closed = false;

  constructor(context: GitopsContext) {
    this.#ctx = context;
    this.#dir = context.siteDir === undefined ? undefined : path.join(context.siteDir, "state", "gitops");
  }

  async load(): Promise<void> {
    if (this.#dir === undefined) return;
    const config = await readJson(path.join(this.#dir, "config.json"), StoredConfigSchema);
    if (config === undefined) return;
    this.#config = config;
    this.#state = (await readJson(path.join(this.#dir, "state.json"), AgentStateSchema)) ?? EMPTY_STATE;
    // The site already serves the applied commit (its own state); check the remote soon.
    this.#schedule(0);
  }

  async attach(request: GitopsConfig): Promise<{ gitops: GitopsStatus; webhook: { path: string; token: string } }> {
    const dir = this.#dir;
    if (dir === undefined) {
      throw new RuntimeError("ERR_GITOPS_CONFIG", `site ${this.#ctx.siteName} keeps no state on disk, so it cannot pull from git`, {
        status: 409,
        hint: "run it from a site directory: `edgefn site init <dir>` then `edgefn site up <dir>`",
      });
    }
    if (request.repo.startsWith("/") && !existsSync(request.repo)) {
      throw new RuntimeError("ERR_GITOPS_CONFIG", `${request.repo} does not exist on site ${this.#ctx.siteName}`, {
        status: 400,
        hint: "a local repository path is read by the site process: give a path on the site's host, or an http(s) URL",
      });
    }
    // The running sync finishes first: the probe fetches into the same cache.
    await this.#stop();
    try {
      await this.#probe(request, dir);
    } catch (error) {
      if (this.#config !== undefined) {
        this.#closed = false; // refused: the previous attachment goes on as it was
        this.#schedule(0);
      }
      throw error;
    }
    const sameRepo = this.#config !== undefined && this.#config.repo === request.repo && this.#config.branch === request.branch && this.#config.path === request.path;
    this.#config = { ...request, webhookToken: this.#config?.webhookToken ?? randomBytes(32).toString("hex") };
    // Another repository: keep what this agent manages (the first good commit prunes it), forget the rest.
    this.#state = sameRepo ? this.#state : { ...EMPTY_STATE, managed: this.#state.managed };
    this.#failures = 0;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeAtomic(path.join(dir, "config.json"), `${JSON.stringify(this.#config, null, 2)}\n`, 0o600);
    await this.#persist();
    this.#closed = false;
    await this.sync();
    return { gitops: this.status(), webhook: { path: WEBHOOK_PATH, token: this.#config.webhookToken } };
  }

  /**
   * One fetch before anything is saved: a wrong token, branch or path is refused at attach, and
   * the previous attachment stays. An unreachable remote is accepted (the agent retries). It
   * fetches into the agent's cache, so the first sync after it has nothing left to download.
   */
  async #probe(request: GitopsConfig, dir: string): Promise<void> {
    const { fetchBranch, GitError } = await import("./git.ts");
    try {
      await fetchBranch(this.#fetchOptions(request, dir));
    } catch (error) {
      if (!(error instanceof GitError) || error.transient) return;
      throw new RuntimeError("ERR_GITOPS_CONFIG", `site ${this.#ctx.siteName} cannot pull ${request.repo}: ${error.message}`, {
        status: 400,
        ...(error.hint === undefined ? {} : { hint: error.hint }),
      });
    }
  }

  #fetchOptions(config: GitopsConfig, dir: string) {
    return {
      repo: config.repo,
      branch: config.branch,
      cacheDir: path.join(dir, "cache"),
      ...(config.gitToken === undefined ? {} : { token: config.gitToken, username: config.gitUsername }),
      timeoutMs: FETCH_TIMEOUT_MS,
    };
  }

  async detach(): Promise<void> {
    if (this.#config === undefined) throw notAttached(this.#ctx.siteName);
    await this.#stop();
    this.#config = undefined;
    this.#state = EMPTY_STATE;
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
  }

  status(): GitopsStatus {
    const config = this.#config;
    const s = this.#state;
    const error = s.fetchError ?? s.commitError;
    const state = config === undefined ? "idle" : s.offlineSince !== null ? "offline" : error !== null ? "failed" : s.applied !== null ? "synced" : "idle";
    return {
      site: this.#ctx.siteName,
      attached: config !== undefined,
      ...(config === undefined ? {} : { repo: config.repo, branch: config.branch, path: config.path, intervalS: config.intervalS, prune: config.prune, webhookPath: WEBHOOK_PATH }),
      state,
      syncing: this.#syncing !== undefined,
      applied: s.applied,
      fetched: s.fetched,
      offlineSince: s.offlineSince,
      lastCheckAt: s.lastCheckAt,
      nextCheckAt: this.#nextCheckAt === undefined ? null : new Date(this.#nextCheckAt).toISOString(),
      error,
      functions: s.functions,
      skipped: s.skipped,
    };
  }

  async sync(): Promise<GitopsStatus> {
    if (this.#config === undefined) throw notAttached(this.#ctx.siteName);
    await this.#run(true);
    return this.status();
  }

  webhook(headers: Headers, body: Uint8Array): boolean {
    const token = this.#config?.webhookToken;
    if (token === undefined) return false;
    const bearer = /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "")?.[1];
    const gitlab = headers.get("x-gitlab-token") ?? undefined;
    const signature = headers.get("x-hub-signature-256") ?? undefined;
    const ok =
      (bearer !== undefined && sameSecret(bearer, token)) ||
      (gitlab !== undefined && sameSecret(gitlab, token)) ||
      (signature !== undefined && sameSecret(signature, `sha256=${createHmac("sha256", token).update(body).digest("hex")}`));
    if (!ok) return false;
    // A push to another branch (GitHub, Gitea and GitLab push events carry `ref`) changes nothing here.
    const ref = pushedRef(body);
    if (ref !== undefined && ref !== `refs/heads/${this.#config!.branch}`) return true;
    void this.#run(true).catch((error: unknown) => this.#ctx.logger.error({ err: error }, "GitOps sync from the webhook failed"));
    return true;
  }

  async close(): Promise<void> {
    await this.#stop();
  }

  /** Runs one sync (or queues one more after the running one); `force`: retry a failed commit too. */
  async #run(force: boolean): Promise<void> {
    if (this.#syncing !== undefined) {
      this.#again ||= force;
      await this.#syncing;
      if (this.#syncing !== undefined) await this.#syncing; // the queued one
      return;
    }
    clearTimeout(this.#timer);
    this.#nextCheckAt = undefined;
    this.#syncing = this.#cycle(force).finally(() => {
      this.#syncing = undefined;
      if (this.#closed || this.#config === undefined) return;
      if (this.#again) {
        this.#again = false;
        void this.#run(true);
      } else {
        this.#schedule(this.#delayMs());
      }
    });
    await this.#syncing;
  }

  async #cycle(force: boolean): Promise<void> {
    const config = this.#config!;
    const dir = this.#dir!;
    const log = this.#ctx.logger;
    const now = () => new Date().toISOString();
    // isomorphic-git loads only once a site is attached.
    const { fetchBranch, exportTree, GitError } = await import("./git.ts");
    let fetched: Awaited<ReturnType<typeof fetchBranch>>;
    try {
      fetched = await fetchBranch(this.#fetchOptions(config, dir));
    } catch (error) {
      if (!(error instanceof GitError)) throw error;
      this.#failures += 1;
      const transient = error.transient;
      this.#state = {
        ...this.#state,
        lastCheckAt: now(),
        offlineSince: transient ? (this.#state.offlineSince ?? now()) : null,
        fetchError: { code: error.code, message: error.message, ...(error.hint === undefined ? {} : { hint: error.hint }), at: now() },
      };
      log.warn({ code: error.code, repo: config.repo, failures: this.#failures }, error.message);
      await this.#persist();
      return;
    }
    this.#failures = 0;
    const commit: CommitInfo = { commit: fetched.commit, message: fetched.message, committedAt: fetched.committedAt };
    this.#state = { ...this.#state, lastCheckAt: now(), offlineSince: null, fetchError: null, fetched: { ...commit, fetchedAt: now() } };
    // The branch is where the site is (also after a failed commit was reverted by a force push),
    // and so are the functions: nothing to do. A function changed or removed by hand (drift) is
    // put back as the commit has it, as Flux does.
    if (commit.commit === this.#state.applied?.commit) {
      this.#state = { ...this.#state, failedCommit: null, commitError: null };
      const drifted = this.#drifted();
      if (drifted.length === 0) return this.#persist();
      log.warn({ functions: drifted }, `functions changed by hand since commit ${commit.commit.slice(0, 12)}: putting them back (${drifted.join(", ")})`);
    }
    const retry = force || SITE_FAILURES.has(this.#state.commitError?.code ?? "");
    if (commit.commit === this.#state.failedCommit && !retry) return this.#persist();

    const checkout = path.join(dir, "checkout");
    await rm(checkout, { recursive: true, force: true });
    let outcome: Awaited<ReturnType<typeof applyCommit>>;
    try {
      await exportTree({ gitdir: fetched.gitdir, commit: commit.commit, path: config.path, dest: checkout });
      outcome = await applyCommit({
        checkout,
        repoPath: config.path,
        commit: commit.commit,
        site: this.#ctx.site,
        siteName: this.#ctx.siteName,
        trust: this.#ctx.trust(),
        tier: this.#ctx.tier,
        privateKeyPem: await readFile(path.join(this.#ctx.siteDir!, "keys", "site.key"), "utf8").catch(() => undefined),
        managed: this.#state.managed,
        prune: config.prune,
        nodePaths: NODE_PATHS,
      });
    } catch (error) {
      // A path missing from the commit, or a failure of the site itself (a full disk, a crashed
      // isolate host): the commit counts as failed and the site stays where it was.
      if (!isCodedError(error)) log.error({ err: error, commit: commit.commit }, "applying a commit failed unexpectedly");
      const failure = isCodedError(error) ? error : { code: "ERR_INTERNAL", message: (error as Error).message, hint: "this is a bug in edgefn; see the site's log" };
      outcome = { ok: false, error: { code: failure.code, message: failure.message, ...(failure.hint === undefined ? {} : { hint: failure.hint }) }, functions: [] };
    } finally {
      await rm(checkout, { recursive: true, force: true });
    }
    if (outcome.ok) {
      this.#state = { ...this.#state, applied: { ...commit, appliedAt: now() }, failedCommit: null, commitError: null, managed: outcome.managed, functions: outcome.functions, skipped: outcome.skipped };
      const changed = outcome.functions.filter((f) => f.result !== "unchanged").map((f) => `${f.name} ${f.result}`);
      log.info({ commit: commit.commit, changed }, `applied commit ${commit.commit.slice(0, 12)}${changed.length === 0 ? " (no change)" : `: ${changed.join(", ")}`}`);
    } else {
      const error: GitopsError = { ...outcome.error, commit: commit.commit, at: now() };
      this.#state = { ...this.#state, failedCommit: commit.commit, commitError: error };
      log.warn({ commit: commit.commit, code: error.code, file: error.file }, `commit ${commit.commit.slice(0, 12)} not applied: ${error.message.split("\n")[0]}`);
    }
    await this.#persist();
  }

  /** Functions this agent applied whose live version is not the one it applied (or that are gone). */
  #drifted(): string[] {
    const live = new Map(this.#ctx.site.list().map((f) => [f.name, f.digest]));
    return this.#state.managed.filter((m) => live.get(m.name) !== m.digest).map((m) => m.name);
  }

  #delayMs(): number {
    const interval = this.#config!.intervalS * 1_000;
    if (this.#failures === 0 || this.#state.offlineSince === null) return interval;
    return Math.min(interval, FIRST_BACKOFF_MS * 2 ** (this.#failures - 1));
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#nextCheckAt = Date.now() + delayMs;
    this.#timer = setTimeout(() => {
      void this.#run(false).catch((error: unknown) => this.#ctx.logger.error({ err: error }, "GitOps sync failed"));
    }, delayMs);
    this.#timer.unref();
  }

  async #stop(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#nextCheckAt = undefined;
    this.#again = false;
    await this.#syncing?.catch(() => undefined);
  }

  async #persist(): Promise<void> {
    if (this.#dir === undefined || this.#config === undefined) return;
    await writeAtomic(path.join(this.#dir, "state.json"), `${JSON.stringify(this.#state, null, 2)}\n`, 0o600);
  }
}

function notAttached(site: string): RuntimeError {
  return new RuntimeError("ERR_NO_GITOPS", `site ${site} is not attached to a git repository`, {
    status: 409,
    hint: "attach it: `edgefn gitops attach --repo <url> --branch main`",
  });
}

/** The `ref` of a push event's JSON body, if it is one. */
function pushedRef(body: Uint8Array): string | undefined {
  try {
    const ref = (JSON.parse(new TextDecoder().decode(body)) as { ref?: unknown } | null)?.ref;
    return typeof ref === "string" && ref.startsWith("refs/") ? ref : undefined;
  } catch {
    return undefined;
  }
}

/** Constant-time comparison of two secrets of any length. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

async function readJson<T extends z.ZodType>(file: string, schema: T): Promise<z.output<T> | undefined> {
  const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`GitOps file ${file} is not valid: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
