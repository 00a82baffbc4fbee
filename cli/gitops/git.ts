/**
 * The git layer of the GitOps agent, on isomorphic-git (pure JS, no git binary needed):
 * fetch one branch of a remote into a bare cache repository (or read a local repository in
 * place), and export the tree of a commit below a path into a fresh folder.
 */
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import git, { type GitHttpRequest, type GitHttpResponse, type HttpClient, type TreeEntry } from "isomorphic-git";

export type GitErrorCode =
  | "ERR_GIT_UNREACHABLE" // transient: refused, DNS, timeout, reset, or a 5xx from the remote
  | "ERR_GIT_AUTH" // user: the remote wants credentials (401/403), none given or refused
  | "ERR_GIT_BRANCH" // user: the repository has no such branch
  | "ERR_GIT_NOT_A_REPO" // user: a local path that is no git repository, or a URL that answers but is not one
  | "ERR_GIT_PATH"; // user: the path is not a folder in the commit

export class GitError extends Error {
  readonly code: GitErrorCode;
  readonly hint: string | undefined;
  /** True when retrying later may succeed (the caller backs off); false until the config changes. */
  readonly transient: boolean;
  constructor(code: GitErrorCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "GitError";
    this.code = code;
    this.hint = opts.hint;
    this.transient = code === "ERR_GIT_UNREACHABLE";
  }
  toJSON(): { code: string; message: string; hint?: string } {
    return { code: this.code, message: this.message, ...(this.hint === undefined ? {} : { hint: this.hint }) };
  }
}

/** How long any request may go without a byte moving, unless the caller says otherwise. */
export const GIT_TIMEOUT_MS = 20_000;

export interface FetchOptions {
  /** `https://…`, `http://…`, or an absolute path to a local repository (bare or working). */
  repo: string;
  branch: string;
  /** Bare cache repository for an http(s) remote; created if missing. Unused for a local path. */
  cacheDir: string;
  token?: string | undefined;
  username?: string | undefined;
  timeoutMs?: number | undefined;
}

export interface FetchedCommit {
  /** Where the commit's objects are: the cache repository, or the local repository itself. */
  gitdir: string;
  commit: string;
  /** First line of the commit message. */
  message: string;
  /** Committer time, ISO 8601 (UTC). */
  committedAt: string;
}

/** Fetches `branch` of `repo` and returns its newest commit. Throws GitError. */
export async function fetchBranch(opts: FetchOptions): Promise<FetchedCommit> {
  const where = `${redact(opts.repo)} (branch ${opts.branch})`;
  if (/^https?:\/\//.test(opts.repo)) return fetchRemote(opts, where);
  if (path.isAbsolute(opts.repo)) return readLocal(opts.repo, opts.branch);
  throw new GitError("ERR_GIT_NOT_A_REPO", `${redact(opts.repo)} is neither an http(s) URL nor an absolute path.`, {
    hint: "Give an https:// URL, or the absolute path of a repository on this machine.",
  });
}

async function fetchRemote(opts: FetchOptions, where: string): Promise<FetchedCommit> {
  const gitdir = opts.cacheDir;
  const client = createHttpClient(opts.timeoutMs ?? GIT_TIMEOUT_MS);
  const onAuth = opts.token === undefined ? undefined : () => ({ username: opts.username ?? "edgefn", password: opts.token });
  const tracking = `refs/remotes/origin/${opts.branch}`;
  await prepareCache(gitdir, opts.repo);
  const known = await git.resolveRef({ fs, gitdir, ref: tracking }).then(
    () => true,
    () => false,
  );
  let commit: string | null;
  try {
    const result = await git.fetch({
      fs,
      http: client,
      gitdir,
      remote: "origin",
      // `ref` names the local ref whose commit is offered as a "have"; `remoteRef` is what we ask for.
      ref: tracking,
      remoteRef: `refs/heads/${opts.branch}`,
      singleBranch: true,
      tags: false,
      // Shallow only the first time: the agent needs the newest tree, not the history. Later
      // fetches go without depth: the shallow boundary stops the history there, and the server
      // sends only the new objects. With `depth: 1` on every fetch, git http-backend sends the
      // whole tree of each new commit again, haves notwithstanding (measured; real git, which
      // offers thin-pack where isomorphic-git does not, gets only the new objects), and the
      // cache grows by a full snapshot per commit.
      ...(known ? {} : { depth: 1 }),
      ...(onAuth ? { onAuth } : {}),
    });
    commit = result.fetchHead;
  } catch (err) {
    if (client.failure) throw unreachable(where, client.failure);
    if (isIsoGitError(err, "NotFoundError") && err.data?.what === `refs/heads/${opts.branch}`) throw await missingBranch(opts, err);
    throw toGitError(err, where, opts.token !== undefined);
  }
  // isomorphic-git reads a body that broke off as a short one: trust no result after that.
  if (client.failure) throw unreachable(where, client.failure);
  if (commit === null) throw branchError(opts.repo, opts.branch, []);
  return { gitdir, commit, ...(await readCommitInfo(gitdir, commit)) };
}

/** A bare repository at `gitdir` whose origin is `url`. */
async function prepareCache(gitdir: string, url: string): Promise<void> {
  if (!existsSync(path.join(gitdir, "HEAD"))) {
    await fs.mkdir(gitdir, { recursive: true });
    await git.init({ fs, gitdir, bare: true });
  }
  if ((await git.getConfig({ fs, gitdir, path: "remote.origin.url" })) === url) return;
  await git.setConfig({ fs, gitdir, path: "remote.origin.url", value: url });
  await git.setConfig({ fs, gitdir, path: "remote.origin.fetch", value: "+refs/heads/*:refs/remotes/origin/*" });
  // Another repository: forget the old one's branches, so the next fetch starts shallow.
  for (const branch of await git.listBranches({ fs, gitdir, remote: "origin" })) {
    await git.deleteRef({ fs, gitdir, ref: `refs/remotes/origin/${branch}` });
  }
}

async function missingBranch(opts: FetchOptions, cause: unknown): Promise<GitError> {
  let branches: string[] = [];
  try {
    const refs = await git.listServerRefs({
      http: createHttpClient(opts.timeoutMs ?? GIT_TIMEOUT_MS),
      url: opts.repo,
      prefix: "refs/heads/",
      ...(opts.token === undefined ? {} : { onAuth: () => ({ username: opts.username ?? "edgefn", password: opts.token }) }),
    });
    branches = refs.map((r) => r.ref.slice("refs/heads/".length));
  } catch {
    // The list is a courtesy: say that the branch is missing even if listing failed.
  }
  return branchError(opts.repo, opts.branch, branches, cause);
}

function branchError(repo: string, branch: string, branches: string[], cause?: unknown): GitError {
  const list = branches.length > 20 ? `${branches.slice(0, 20).join(", ")}, …` : branches.join(", ");
  const message = branches.length > 0 ? `${redact(repo)} has no branch ${branch} (it has ${list}).` : `${redact(repo)} has no branches: it is empty.`;
  return new GitError("ERR_GIT_BRANCH", message, { hint: "Check the branch name (--branch), or push the branch.", cause });
}

/** A local repository, read in place: `<repo>` if bare, `<repo>/.git` if a working copy. */
async function readLocal(repo: string, branch: string): Promise<FetchedCommit> {
  const gitdir = await findGitdir(repo);
  if (gitdir === undefined) {
    throw new GitError("ERR_GIT_NOT_A_REPO", `${repo} is not a git repository (no .git in it, and not a bare repository).`, {
      hint: "Give the path of a bare repository or of a working copy (the folder that holds .git).",
    });
  }
  let commit: string;
  try {
    commit = await git.resolveRef({ fs, gitdir, ref: `refs/heads/${branch}` });
  } catch (err) {
    if (!isIsoGitError(err, "NotFoundError")) throw err;
    throw branchError(repo, branch, await git.listBranches({ fs, gitdir }).catch(() => []), err);
  }
  return { gitdir, commit, ...(await readCommitInfo(gitdir, commit)) };
}

async function findGitdir(repo: string): Promise<string | undefined> {
  const dotGit = path.join(repo, ".git");
  const stat = await fs.stat(dotGit).catch(() => undefined);
  if (stat?.isDirectory()) return dotGit;
  if (stat?.isFile()) {
    // A linked worktree or submodule: `.git` is a file saying `gitdir: <path>`.
    const line = /^gitdir: (.+)$/m.exec(await fs.readFile(dotGit, "utf8"))?.[1];
    return line === undefined ? undefined : path.resolve(repo, line.trim());
  }
  const bare = existsSync(path.join(repo, "HEAD")) && existsSync(path.join(repo, "objects"));
  return bare ? repo : undefined;
}

async function readCommitInfo(gitdir: string, oid: string): Promise<{ message: string; committedAt: string }> {
  const { commit } = await git.readCommit({ fs, gitdir, oid });
  return {
    message: commit.message.split("\n", 1)[0] ?? "",
    committedAt: new Date(commit.committer.timestamp * 1000).toISOString(),
  };
}

export interface ExportOptions {
  gitdir: string;
  commit: string;
  /** Folder inside the repository: "." for all of it, or e.g. "fleet/prod". */
  path: string;
  /** Must not exist yet; created. */
  dest: string;
}

/**
 * Writes the regular files of `commit` below `path` into `dest`, keeping the executable bit.
 * Symlinks and submodules are not written; they come back in `skipped` (repository paths).
 */
export async function exportTree(opts: ExportOptions): Promise<{ files: number; skipped: string[] }> {
  const root = opts.path.replace(/^\.\/?/, "").replace(/\/+$/, "");
  const cache = {}; // shared by every read: the pack index is parsed once, not per blob
  let tree: TreeEntry[];
  try {
    tree = (await git.readTree({ fs, gitdir: opts.gitdir, oid: opts.commit, cache, ...(root ? { filepath: root } : {}) })).tree;
  } catch (err) {
    const notThere = isIsoGitError(err, "NotFoundError") || isIsoGitError(err, "ObjectTypeError");
    if (!root || !notThere || err.data?.what === opts.commit) throw err;
    throw new GitError("ERR_GIT_PATH", `${root} is not a folder in commit ${opts.commit.slice(0, 12)}.`, {
      hint: "Check the path (--path): it names a folder of the repository, relative to its root.",
      cause: err,
    });
  }
  await fs.mkdir(path.dirname(opts.dest), { recursive: true });
  await fs.mkdir(opts.dest); // throws EEXIST: an export never mixes with older files
  const result = { files: 0, skipped: [] as string[] };
  await writeTree(opts.gitdir, cache, tree, root, opts.dest, result);
  return result;
}

/** Depth-first, one blob in memory at a time. */
async function writeTree(
  gitdir: string,
  cache: object,
  tree: TreeEntry[],
  repoDir: string,
  dir: string,
  result: { files: number; skipped: string[] },
): Promise<void> {
  for (const entry of tree) {
    const repoPath = repoDir ? `${repoDir}/${entry.path}` : entry.path;
    // git never writes these names; a crafted tree must not reach outside `dest`.
    const unsafe = entry.path === "" || entry.path === "." || entry.path === ".." || /[/\\\0]/.test(entry.path);
    const target = path.join(dir, entry.path);
    if (entry.mode === "040000" && !unsafe) {
      await fs.mkdir(target);
      const sub = await git.readTree({ fs, gitdir, oid: entry.oid, cache });
      await writeTree(gitdir, cache, sub.tree, repoPath, target, result);
    } else if ((entry.mode === "100644" || entry.mode === "100755") && !unsafe) {
      const { blob } = await git.readBlob({ fs, gitdir, oid: entry.oid, cache });
      await fs.writeFile(target, blob, { mode: entry.mode === "100755" ? 0o755 : 0o644, flag: "wx" });
      result.files++;
    } else {
      result.skipped.push(repoPath); // 120000 symlink, 160000 submodule, or an unsafe name
    }
  }
}

// --- errors ---------------------------------------------------------------------------------

interface IsoGitError extends Error {
  code: string;
  data?: { statusCode?: number; what?: string };
}

function isIsoGitError(err: unknown, code: string): err is IsoGitError {
  return err instanceof Error && (err as { code?: unknown }).code === code;
}

function toGitError(err: unknown, where: string, hadToken: boolean): unknown {
  if (err instanceof GitError) return err;
  if (isIsoGitError(err, "HttpError")) {
    const status = err.data?.statusCode ?? 0;
    if (status === 401 || status === 403) {
      return new GitError("ERR_GIT_AUTH", `${where}: the remote refused access (HTTP ${status}).`, {
        hint: hadToken
          ? "The token was refused: check the file given with --git-token-file and that the token can read the repository."
          : "The remote wants credentials: pass a token that can read the repository with --git-token-file.",
        cause: err,
      });
    }
    if (status >= 500) return unreachable(where, new Error(`the remote answered HTTP ${status}`, { cause: err }));
    if (status >= 300 && status < 400) {
      return new GitError("ERR_GIT_NOT_A_REPO", `${where}: the URL redirects (HTTP ${status}).`, {
        hint: "Give the URL it redirects to (https:// instead of http://?): redirects are not followed, so the token goes nowhere else.",
        cause: err,
      });
    }
    return new GitError("ERR_GIT_NOT_A_REPO", `${where}: the URL answered HTTP ${status}; no git repository there.`, {
      hint: "Check the repository URL (for most servers it ends in .git).",
      cause: err,
    });
  }
  if (isIsoGitError(err, "SmartHttpError") || isIsoGitError(err, "ParseError") || isIsoGitError(err, "UnknownTransportError")) {
    return new GitError("ERR_GIT_NOT_A_REPO", `${where}: the URL answers, but not as a git repository.`, {
      hint: "Check the repository URL (for most servers it ends in .git).",
      cause: err,
    });
  }
  if (isIsoGitError(err, "UserCanceledError")) {
    return new GitError("ERR_GIT_AUTH", `${where}: the remote wants credentials.`, { hint: "Pass a token with --git-token-file.", cause: err });
  }
  if (isIsoGitError(err, "EmptyServerResponseError")) return unreachable(where, err);
  return err; // anything else is a bug here or in isomorphic-git: keep its stack
}

/** Refused, DNS, reset, timeout (the transport's error), or a 5xx / empty answer. */
function unreachable(where: string, cause: Error): GitError {
  return new GitError("ERR_GIT_UNREACHABLE", `${where}: ${cause.message}.`, {
    hint: "Check that the remote is up and reachable from this site; the agent retries with back-off.",
    cause,
  });
}

/** The URL without user:password@, for messages. */
function redact(repo: string): string {
  return repo.replace(/^(https?:\/\/)[^/@]*@/, "$1");
}

// --- http -----------------------------------------------------------------------------------

/** An HttpClient that remembers its first transport error, even one isomorphic-git swallows. */
interface HttpClientWithFailure extends HttpClient {
  failure: Error | undefined;
}

/**
 * isomorphic-git's `http/node` client (simple-get) has no timeout, and `git.fetch` takes no
 * abort signal. This one fails a request once its socket has been idle for `timeoutMs`
 * (connecting, waiting for the answer, or mid-body), so a hung remote cannot hang the agent.
 * No Accept-Encoding is sent, so bodies come back uncompressed.
 */
function createHttpClient(timeoutMs: number): HttpClientWithFailure {
  const client: HttpClientWithFailure = {
    failure: undefined,
    request: (req) => send(req, timeoutMs, (err) => (client.failure ??= err)),
  };
  return client;
}

async function send(req: GitHttpRequest, timeoutMs: number, onFailure: (err: Error) => void): Promise<GitHttpResponse> {
  const chunks: Uint8Array[] = [];
  if (req.body) for await (const chunk of req.body) chunks.push(chunk);
  const body = req.body ? Buffer.concat(chunks) : undefined;
  const url = new URL(req.url);
  const method = req.method ?? "GET";
  const headers = { ...req.headers, ...(body ? { "content-length": String(body.length) } : {}) };
  return new Promise((resolve, reject) => {
    let response: http.IncomingMessage | undefined;
    const request = (url.protocol === "https:" ? https : http).request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      response = res;
      res.on("error", onFailure);
      const flat: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) flat[name] = String(value);
      resolve({ url: req.url, method, statusCode: res.statusCode ?? 0, statusMessage: res.statusMessage ?? "", headers: flat, body: res[Symbol.asyncIterator]() });
    });
    request.on("timeout", () => {
      const err = new Error(`the remote sent nothing for ${timeoutMs / 1000} s`);
      request.destroy(err);
      response?.destroy(err); // fails the body isomorphic-git is reading
    });
    request.on("error", (err) => {
      onFailure(err);
      reject(err);
    });
    request.end(body);
  });
}
