/**
 * A real git smart-HTTP server for tests: node:http on 127.0.0.1 in front of
 * `git http-backend` (CGI), serving the bare repositories under `root`. Plus `createRepo`, a
 * bare repository with a working clone to commit and push with the system git.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, rename as fsRename, rm, symlink, writeFile, chmod } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

const HTTP_BACKEND = "/usr/lib/git-core/git-http-backend";
/** No git child of these helpers may run longer than this. */
const CHILD_TIMEOUT_MS = 30_000;

/** Keeps the machine's git config out: no system file, and HOME/XDG pointing at nothing. */
function gitEnv(root: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const home = path.join(root, ".home"); // need not exist: git then finds no global config
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0",
    LANG: "C",
    ...extra,
  };
}

export interface GitServer {
  /** `http://127.0.0.1:<port>/<repo>.git` */
  url(repo: string): string;
  readonly port: number;
  /** HTTP requests served so far. */
  readonly requests: number;
  /** Closes the listener, every open connection and every running http-backend. */
  stop(): Promise<void>;
  /** Listens again on the same port (a remote that went down and came back). */
  start(): Promise<void>;
}

export async function startGitServer(opts: { root: string; token?: string; port?: number }): Promise<GitServer> {
  const children = new Set<ChildProcess>();
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    if (opts.token !== undefined && !authorized(req, opts.token)) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"', "Content-Type": "text/plain" });
      res.end("authentication required\n");
      return;
    }
    runBackend(opts.root, req, res, children);
  });
  let port = opts.port ?? 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();
  return {
    url: (repo) => `http://127.0.0.1:${port}/${repo}.git`,
    get port() {
      return port;
    },
    get requests() {
      return requests;
    },
    async stop() {
      for (const child of children) child.kill("SIGKILL");
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
    start: listen,
  };
}

function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? "";
  const [scheme, value = ""] = header.split(" ", 2);
  if (scheme?.toLowerCase() === "bearer") return value === token;
  if (scheme?.toLowerCase() !== "basic") return false;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  return decoded.slice(decoded.indexOf(":") + 1) === token;
}

/** Runs one request through git http-backend (CGI/1.1), streaming both bodies. */
function runBackend(root: string, req: IncomingMessage, res: ServerResponse, children: Set<ChildProcess>): void {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const child = spawn(HTTP_BACKEND, [], {
    env: gitEnv(root, {
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      // Lets tests push over HTTP with the real git client.
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "http.receivepack",
      GIT_CONFIG_VALUE_0: "true",
      PATH_INFO: decodeURIComponent(url.pathname),
      REQUEST_METHOD: req.method ?? "GET",
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      CONTENT_LENGTH: req.headers["content-length"] ?? "",
      HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
      GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
      REMOTE_USER: "test",
      REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
    }),
    stdio: ["pipe", "pipe", "pipe"],
    timeout: CHILD_TIMEOUT_MS,
    killSignal: "SIGKILL",
  });
  children.add(child);
  child.on("close", () => children.delete(child));
  const fail = (status: number, text: string) => {
    if (!res.headersSent) res.writeHead(status, { "Content-Type": "text/plain" }).end(`${text}\n`);
    else res.destroy();
  };
  child.on("error", (err) => fail(500, `http-backend: ${err.message}`));
  child.stdin.on("error", () => {}); // the backend may exit before reading the whole body
  req.pipe(child.stdin);
  res.on("close", () => {
    if (!res.writableFinished) child.kill("SIGKILL"); // the client went away
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));

  // Read the CGI header block, then stream the rest as the body.
  let head = Buffer.alloc(0);
  const onHead = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = headerEnd(head);
    if (end === undefined) return;
    child.stdout.off("data", onHead);
    const { status, headers } = parseCgiHeaders(head.subarray(0, end.at).toString("latin1"));
    res.writeHead(status, headers);
    res.write(head.subarray(end.at + end.length));
    child.stdout.pipe(res);
  };
  child.stdout.on("data", onHead);
  child.on("close", (code) => {
    if (!res.headersSent) fail(502, `http-backend exited ${code} without headers: ${stderr.trim()}`);
  });
}

function headerEnd(buf: Buffer): { at: number; length: number } | undefined {
  const crlf = buf.indexOf("\r\n\r\n");
  const lf = buf.indexOf("\n\n");
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { at: crlf, length: 4 };
  if (lf !== -1) return { at: lf, length: 2 };
  return undefined;
}

function parseCgiHeaders(text: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = Number.parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  return { status, headers };
}

/** What `commit` writes at a path: text, a file with a mode, a symlink, or null to delete. */
export type FileSpec = string | null | { content: string; mode?: number } | { symlink: string };

export interface TestRepo {
  /** `<root>/<name>.git`, the bare repository the server serves. */
  readonly bare: string;
  /** The working clone (`<root>/<name>.work`). */
  readonly work: string;
  /** Writes and deletes files, commits everything; returns the new commit's sha. */
  commit(files: Record<string, FileSpec>, message: string): Promise<string>;
  rename(from: string, to: string, message: string): Promise<string>;
  /** Pushes the current branch to the bare repository, by file path (not through the server). */
  push(): Promise<void>;
  /** Switches the working clone to branch `name`, creating it at HEAD if needed. */
  branch(name: string): Promise<void>;
  /** `git rev-parse <ref>` in the bare repository. */
  revParse(ref: string): Promise<string>;
  /** Runs any git command in the working clone; returns stdout. */
  git(...args: string[]): Promise<string>;
}

export async function createRepo(root: string, name: string): Promise<TestRepo> {
  const bare = path.join(root, `${name}.git`);
  const work = path.join(root, `${name}.work`);
  const run = (cwd: string, args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const config = ["-c", "user.name=edgefn test", "-c", "user.email=test@edgefn.invalid", "-c", "init.defaultBranch=main"];
      execFile("git", [...config, ...args], { cwd, env: gitEnv(root), timeout: CHILD_TIMEOUT_MS, killSignal: "SIGKILL" }, (err, stdout, stderr) =>
        err ? reject(new Error(`git ${args.join(" ")}: ${stderr.trim() || err.message}`, { cause: err })) : resolve(stdout),
      );
    });
  await mkdir(root, { recursive: true });
  await run(root, ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
  await run(root, ["init", "--quiet", "--initial-branch=main", work]);
  await run(work, ["remote", "add", "origin", bare]);
  const git = (...args: string[]) => run(work, args);
  const commitAll = async (message: string) => {
    await git("add", "--all");
    await git("commit", "--quiet", "--no-verify", "-m", message);
    return (await git("rev-parse", "HEAD")).trim();
  };
  return {
    bare,
    work,
    git,
    async commit(files, message) {
      for (const [rel, spec] of Object.entries(files)) {
        const file = path.join(work, rel);
        await rm(file, { force: true, recursive: true });
        if (spec === null) continue;
        await mkdir(path.dirname(file), { recursive: true });
        if (typeof spec === "string") await writeFile(file, spec);
        else if ("symlink" in spec) await symlink(spec.symlink, file);
        else {
          await writeFile(file, spec.content);
          if (spec.mode !== undefined) await chmod(file, spec.mode);
        }
      }
      return commitAll(message);
    },
    async rename(from, to, message) {
      await mkdir(path.dirname(path.join(work, to)), { recursive: true });
      await fsRename(path.join(work, from), path.join(work, to));
      return commitAll(message);
    },
    async push() {
      await git("push", "--quiet", "origin", "HEAD");
    },
    async branch(branchName) {
      const exists = await git("rev-parse", "--verify", "--quiet", `refs/heads/${branchName}`).then(
        () => true,
        () => false,
      );
      await git("switch", "--quiet", ...(exists ? [] : ["-c"]), branchName);
    },
    async revParse(ref) {
      return (await run(bare, ["rev-parse", ref])).trim();
    },
  };
}
