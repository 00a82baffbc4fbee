/**
 * cli/gitops/git.ts against a real git: `git http-backend` behind a loopback HTTP server
 * (test/helpers/git-server.ts), repositories made and pushed with the system git.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { exportTree, fetchBranch, GitError } from "../cli/gitops/git.ts";
import { createRepo, startGitServer, type GitServer } from "./helpers/git-server.ts";
import { useTmpDir } from "./helpers/tmp.ts";

async function useGitServer(opts: { root: string; token?: string }): Promise<GitServer> {
  const server = await startGitServer(opts);
  onTestFinished(() => server.stop());
  return server;
}

/** A server that accepts connections and never answers. */
async function useHangingServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo.git`;
}

/** The error `promise` rejects with, checked to be a GitError. */
async function gitError(promise: Promise<unknown>): Promise<GitError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GitError);
  return err as GitError;
}

/** Files under `dir`, relative, sorted; folders left out. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => !d.isDirectory())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)))
    .sort();
}

/** Bytes of the pack files in a repository's object store. */
function packBytes(gitdir: string): number {
  const dir = path.join(gitdir, "objects", "pack");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".pack"))
    .reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
}

const isExecutable = (file: string) => (statSync(file).mode & 0o111) !== 0;

describe("fetchBranch over http", () => {
  it("fetches main: the commit git rev-parse names, its first message line and time", async () => {
    const root = useTmpDir();
    const repo = await createRepo(root, "fleet");
    await repo.commit({ "hello/index.ts": "export default 1;\n" }, "Add hello\n\nWith a body.");
    await repo.push();
    const server = await useGitServer({ root });

    const before = Date.now();
    const fetched = await fetchBranch({ repo: server.url("fleet"), branch: "main", cacheDir: path.join(root, "cache") });

    expect(fetched.commit).toBe(await repo.revParse("main"));
    expect(fetched.message).toBe("Add hello");
    expect(fetched.gitdir).toBe(path.join(root, "cache"));
    expect(Math.abs(Date.parse(fetched.committedAt) - before)).toBeLessThan(60_000);
    expect(fetched.committedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    expect(server.requests).toBe(2); // ref discovery, then upload-pack
  });

  it("sees each newly pushed commit over repeated fetches: shallow once, then only new objects", async () => {
    const root = useTmpDir();
    const repo = await createRepo(root, "fleet");
    const big = randomBytes(75_000).toString("base64"); // 100 kB that do not compress well
    await repo.commit({ "old.txt": "history\n" }, "zeroth");
    await repo.commit({ "a/one.txt": "1\n", "big.txt": big, "old.txt": null }, "first");
    await repo.push();
    const server = await useGitServer({ root });
    const cacheDir = path.join(root, "cache");
    const first = await fetchBranch({ repo: server.url("fleet"), branch: "main", cacheDir });
    expect(readFileSync(path.join(cacheDir, "shallow"), "utf8")).toBe(`${first.commit}\n`);
    expect(packBytes(cacheDir)).toBeGreaterThan(70_000); // base64 packs to 3/4

    for (const n of [2, 3, 4]) {
      const packed = packBytes(cacheDir);
      const sha = await repo.commit({ "a/one.txt": `${n}\n`, [`new-${n}.txt`]: `${n}\n` }, `commit ${n}`);
      await repo.push();
      const fetched = await fetchBranch({ repo: server.url("fleet"), branch: "main", cacheDir });
      expect(fetched).toMatchObject({ commit: sha, message: `commit ${n}` });
      expect(packBytes(cacheDir) - packed).toBeLessThan(5_000); // big.txt did not travel again
      const dest = path.join(root, `export-${n}`);
      await exportTree({ gitdir: fetched.gitdir, commit: fetched.commit, path: ".", dest });
      expect(readFileSync(path.join(dest, "a/one.txt"), "utf8")).toBe(`${n}\n`);
      expect(readFileSync(path.join(dest, "big.txt"), "utf8")).toBe(big);
      expect(listFiles(dest)).toContain(`new-${n}.txt`);
    }
    // Unchanged remote: the same commit again, nothing new in the cache.
    const packed = packBytes(cacheDir);
    expect((await fetchBranch({ repo: server.url("fleet"), branch: "main", cacheDir })).commit).toBe(await repo.revParse("main"));
    expect(packBytes(cacheDir) - packed).toBeLessThan(1_000);
    expect(readFileSync(path.join(cacheDir, "shallow"), "utf8")).toBe(`${first.commit}\n`);
  });

  it("token: none or a wrong one is ERR_GIT_AUTH (the token never in the message); the right one fetches", async () => {
    const root = useTmpDir();
    const repo = await createRepo(root, "fleet");
    await repo.commit({ "x.txt": "x\n" }, "x");
    await repo.push();
    const server = await useGitServer({ root, token: "s3cret-token" });
    const url = server.url("fleet");

    const none = await gitError(fetchBranch({ repo: url, branch: "main", cacheDir: path.join(root, "c1") }));
    expect(none).toMatchObject({ code: "ERR_GIT_AUTH", transient: false });
    expect(none.message).toContain(url);
    expect(none.hint).toContain("--git-token-file");

    const wrong = await gitError(fetchBranch({ repo: url, branch: "main", cacheDir: path.join(root, "c2"), token: "wrong-token" }));
    expect(wrong).toMatchObject({ code: "ERR_GIT_AUTH", transient: false });
    expect(JSON.stringify({ ...wrong.toJSON(), stack: wrong.stack })).not.toContain("wrong-token");

    const ok = await fetchBranch({ repo: url, branch: "main", cacheDir: path.join(root, "c3"), token: "s3cret-token", username: "bot" });
    expect(ok.commit).toBe(await repo.revParse("main"));

    // The server also takes a bearer token (for clients other than ours).
    const bearer = await fetch(`${url}/info/refs?service=git-upload-pack`, { headers: { Authorization: "Bearer s3cret-token" } });
    expect(bearer.status).toBe(200);
    await bearer.arrayBuffer();
  });

  it("a stopped remote is ERR_GIT_UNREACHABLE (transient) at once; started again, fetching works", async () => {
    const root = useTmpDir();
    const repo = await createRepo(root, "fleet");
    await repo.commit({ "x.txt": "x\n" }, "x");
    await repo.push();
    const server = await useGitServer({ root });
    const opts = { repo: server.url("fleet"), branch: "main", cacheDir: path.join(root, "cache"), timeoutMs: 1_000 };
    await fetchBranch(opts);

    await server.stop();
    const started = Date.now();
    const err = await gitError(fetchBranch(opts));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toMatchObject({ code: "ERR_GIT_UNREACHABLE", transient: true });
    expect(err.message).toContain("ECONNREFUSED");

    await server.start();
    const sha = await repo.commit({ "y.txt": "y\n" }, "y");
    await repo.push();
    expect((await fetchBranch(opts)).commit).toBe(sha);
  });

  it("a remote that accepts and never answers is ERR_GIT_UNREACHABLE after timeoutMs", async () => {
    const root = useTmpDir();
    const url = await useHangingServer();
    const started = Date.now();
    const err = await gitError(fetchBranch({ repo: url, branch: "main", cacheDir: path.join(root, "cache"), timeoutMs: 500 }));
    const elapsed = Date.now() - started;
    expect(err).toMatchObject({ code: "ERR_GIT_UNREACHABLE", transient: true });
    expect(err.message).toBe(`${url} (branch main): the remote sent nothing for 0.5 s.`);
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(5_000);
  });

  it("a remote that stops mid-answer is ERR_GIT_UNREACHABLE after timeoutMs, not an empty repository", async () => {
    const root = useTmpDir();
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/x-git-upload-pack-advertisement" });
      res.write("001e# service=git-upload-pack\n0000"); // and then nothing
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => {
      server.closeAllConnections();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo.git`;
    const err = await gitError(fetchBranch({ repo: url, branch: "main", cacheDir: path.join(root, "cache"), timeoutMs: 500 }));
    expect(err).toMatchObject({ code: "ERR_GIT_UNREACHABLE", transient: true });
    expect(err.message).toBe(`${url} (branch main): the remote sent nothing for 0.5 s.`);
  });

  it("follows a force-pushed branch whose history was rewritten", async () => {
    const root = useTmpDir();
    const repo = await createRepo(root, "fleet");
    await repo.commit({ "a.txt": "a\n" }, "a");
    await repo.commit({ "b.txt": "b\n" }, "b");
    await repo.push();
    const server = await useGitServer({ root });
    const cacheDir = path.join(root, "cache");
    await fetchBranch({ repo: server.url("fleet"), branch: "main", cacheDir });

    await repo.git("reset", "--quiet", "--hard", "HEAD~1");
    const sha = await repo.commit({ "c.txt": "c\n" }, "c instead of b");
    await repo.git("push", "--quiet", "--force", "origin", "HEAD");
    const fetched = await fetchBranch({ repo: server.url("fleet"), branch: "main", cacheDir });
    expect(fetched.commit).toBe(sha);
    await exportTree({ gitdir: fetched.gitdir, commit: fetched.commit, path: ".", dest: path.join(root, "out") });
    expect(listFiles(path.join(root, "out"))).toEqual(["a.txt", "c.txt"]);
  });

  it("a missing branch is ERR_GIT_BRANCH, listing the branches the remote has", async () => {
    const root = useTmpDir();
    const repo = await createRepo(root, "fleet");
    await repo.commit({ "x.txt": "x\n" }, "x");
    await repo.push();
    await repo.branch("staging");
    await repo.push();
    const server = await useGitServer({ root });

    const err = await gitError(fetchBranch({ repo: server.url("fleet"), branch: "prod", cacheDir: path.join(root, "cache") }));
    expect(err).toMatchObject({ code: "ERR_GIT_BRANCH", transient: false });
    expect(err.message).toBe(`${server.url("fleet")} has no branch prod (it has main, staging).`);
    // The other branch fetches fine into the same cache.
    expect((await fetchBranch({ repo: server.url("fleet"), branch: "staging", cacheDir: path.join(root, "cache") })).commit).toBe(
      await repo.revParse("staging"),
    );
  });

  it("a URL with no repository behind it is ERR_GIT_NOT_A_REPO", async () => {
    const root = useTmpDir();
    const server = await useGitServer({ root });
    const err = await gitError(fetchBranch({ repo: server.url("nothing-here"), branch: "main", cacheDir: path.join(root, "cache") }));
    expect(err).toMatchObject({ code: "ERR_GIT_NOT_A_REPO", transient: false });
    expect(err.message).toContain("HTTP 404");
  });

  it("an empty repository is ERR_GIT_BRANCH", async () => {
    const root = useTmpDir();
    await createRepo(root, "empty");
    const server = await useGitServer({ root });
    const err = await gitError(fetchBranch({ repo: server.url("empty"), branch: "main", cacheDir: path.join(root, "cache") }));
    expect(err).toMatchObject({ code: "ERR_GIT_BRANCH", message: `${server.url("empty")} has no branches: it is empty.` });
  });

  it("the cache follows a changed repository URL", async () => {
    const root = useTmpDir();
    const a = await createRepo(root, "a");
    await a.commit({ "a.txt": "a\n" }, "in a");
    await a.push();
    const b = await createRepo(root, "b");
    await b.commit({ "b.txt": "b\n" }, "in b");
    await b.push();
    const server = await useGitServer({ root });
    const cacheDir = path.join(root, "cache");

    expect((await fetchBranch({ repo: server.url("a"), branch: "main", cacheDir })).message).toBe("in a");
    const fromB = await fetchBranch({ repo: server.url("b"), branch: "main", cacheDir });
    expect(fromB).toMatchObject({ commit: await b.revParse("main"), message: "in b" });
    expect(readFileSync(path.join(cacheDir, "shallow"), "utf8")).toContain(fromB.commit); // a shallow start again
    await exportTree({ gitdir: fromB.gitdir, commit: fromB.commit, path: ".", dest: path.join(root, "out") });
    expect(listFiles(path.join(root, "out"))).toEqual(["b.txt"]);
  });

  it("the server takes pushes from the real git client over HTTP", async () => {
    const root = useTmpDir();
    const repo = await createRepo(root, "fleet");
    const sha = await repo.commit({ "x.txt": "x\n" }, "x");
    const server = await useGitServer({ root, token: "t0ken" });
    const authed = server.url("fleet").replace("http://", "http://user:t0ken@");
    await repo.git("push", "--quiet", authed, "HEAD:refs/heads/main");
    expect(await repo.revParse("main")).toBe(sha);
  });
});

describe("fetchBranch on a local path", () => {
  it("reads a bare repository in place", async () => {
    const root = useTmpDir();
    const repo = await createRepo(root, "fleet");
    const sha = await repo.commit({ "x.txt": "x\n" }, "local bare");
    await repo.push();
    const fetched = await fetchBranch({ repo: repo.bare, branch: "main", cacheDir: path.join(root, "cache") });
    expect(fetched).toMatchObject({ gitdir: repo.bare, commit: sha, message: "local bare" });
    expect(existsSync(path.join(root, "cache"))).toBe(false);
  });

  it("reads a working repository's .git in place, unpushed commits included", async () => {
    const root = useTmpDir();
    const repo = await createRepo(root, "fleet");
    await repo.commit({ "x.txt": "x\n" }, "one");
    const sha = await repo.commit({ "x.txt": "xx\n" }, "two, not pushed");
    await repo.git("gc", "--quiet"); // packed refs and a pack: still read in place
    const fetched = await fetchBranch({ repo: repo.work, branch: "main", cacheDir: path.join(root, "cache") });
    expect(fetched).toMatchObject({ gitdir: path.join(repo.work, ".git"), commit: sha, message: "two, not pushed" });
  });

  it("a folder that is no repository is ERR_GIT_NOT_A_REPO; a missing branch ERR_GIT_BRANCH", async () => {
    const root = useTmpDir();
    const notRepo = await gitError(fetchBranch({ repo: root, branch: "main", cacheDir: path.join(root, "cache") }));
    expect(notRepo.code).toBe("ERR_GIT_NOT_A_REPO");
    expect(notRepo.message).toContain(root);

    const repo = await createRepo(root, "fleet");
    await repo.commit({ "x.txt": "x\n" }, "x");
    const noBranch = await gitError(fetchBranch({ repo: repo.work, branch: "prod", cacheDir: path.join(root, "cache") }));
    expect(noBranch.code).toBe("ERR_GIT_BRANCH");
    expect(noBranch.message).toBe(`${repo.work} has no branch prod (it has main).`);

    const relative = await gitError(fetchBranch({ repo: "fleet.git", branch: "main", cacheDir: path.join(root, "cache") }));
    expect(relative.code).toBe("ERR_GIT_NOT_A_REPO");
  });
});

describe("exportTree", () => {
  /** A repository with a bit of everything, fetched from the bare repository in place. */
  async function fixture(root: string) {
    const repo = await createRepo(root, "fleet");
    await repo.commit(
      {
        "README.md": "# fleet\n",
        "fleet/prod/hello/edgefn.yaml": "name: hello\n",
        "fleet/prod/hello/index.ts": "export default 1;\n",
        "fleet/prod/tools/run.sh": { content: "#!/bin/sh\necho hi\n", mode: 0o755 },
        "fleet/prod/link.ts": { symlink: "hello/index.ts" },
        "fleet/staging/x.txt": "x\n",
      },
      "fixture",
    );
    // A submodule entry (gitlink, mode 160000) pointing at some commit.
    const head = (await repo.git("rev-parse", "HEAD")).trim();
    await repo.git("update-index", "--add", "--cacheinfo", `160000,${head},fleet/prod/vendored`);
    await repo.git("commit", "--quiet", "-m", "submodule");
    await repo.push();
    return { repo, ...(await fetchBranch({ repo: repo.bare, branch: "main", cacheDir: path.join(root, "cache") })) };
  }

  it("exports the whole tree: the executable bit kept, symlinks and submodules skipped", async () => {
    const root = useTmpDir();
    const { gitdir, commit } = await fixture(root);
    const dest = path.join(root, "out", "all");
    const result = await exportTree({ gitdir, commit, path: ".", dest });

    expect(result).toEqual({ files: 5, skipped: ["fleet/prod/link.ts", "fleet/prod/vendored"] });
    expect(listFiles(dest)).toEqual([
      "README.md",
      "fleet/prod/hello/edgefn.yaml",
      "fleet/prod/hello/index.ts",
      "fleet/prod/tools/run.sh",
      "fleet/staging/x.txt",
    ]);
    expect(isExecutable(path.join(dest, "fleet/prod/tools/run.sh"))).toBe(true);
    expect(isExecutable(path.join(dest, "fleet/prod/hello/index.ts"))).toBe(false);
    expect(readFileSync(path.join(dest, "fleet/prod/hello/index.ts"), "utf8")).toBe("export default 1;\n");
  });

  it("exports a subfolder only, relative to it", async () => {
    const root = useTmpDir();
    const { gitdir, commit } = await fixture(root);
    const dest = path.join(root, "prod");
    const result = await exportTree({ gitdir, commit, path: "fleet/prod", dest });
    expect(result).toEqual({ files: 3, skipped: ["fleet/prod/link.ts", "fleet/prod/vendored"] });
    expect(listFiles(dest)).toEqual(["hello/edgefn.yaml", "hello/index.ts", "tools/run.sh"]);
  });

  it("a fresh export after a delete and a rename holds neither old path", async () => {
    const root = useTmpDir();
    const { repo, gitdir } = await fixture(root);
    await repo.commit({ "fleet/staging/x.txt": null }, "delete x");
    const sha = await repo.rename("fleet/prod/hello", "fleet/prod/greet", "rename hello");
    await repo.push();
    const fetched = await fetchBranch({ repo: repo.bare, branch: "main", cacheDir: path.join(root, "cache") });
    expect(fetched.commit).toBe(sha);
    const dest = path.join(root, "after");
    await exportTree({ gitdir, commit: fetched.commit, path: ".", dest });
    expect(listFiles(dest)).toEqual(["README.md", "fleet/prod/greet/edgefn.yaml", "fleet/prod/greet/index.ts", "fleet/prod/tools/run.sh"]);
  });

  it("a path that is not a folder of the commit is ERR_GIT_PATH, naming path and commit", async () => {
    const root = useTmpDir();
    const { gitdir, commit } = await fixture(root);
    for (const p of ["fleet/dev", "README.md", "fleet/prod/hello/index.ts/x"]) {
      const err = await gitError(exportTree({ gitdir, commit, path: p, dest: path.join(root, "out") }));
      expect(err).toMatchObject({ code: "ERR_GIT_PATH", transient: false });
      expect(err.message).toBe(`${p} is not a folder in commit ${commit.slice(0, 12)}.`);
    }
    expect(existsSync(path.join(root, "out"))).toBe(false);
  });

  it("refuses a destination that exists", async () => {
    const root = useTmpDir();
    const { gitdir, commit } = await fixture(root);
    await expect(exportTree({ gitdir, commit, path: ".", dest: root })).rejects.toMatchObject({ code: "EEXIST" });
  });
});
