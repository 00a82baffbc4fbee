/**
 * `edgefn gitops init|attach|status|sync|detach`: a site pulls its functions from a git
 * repository (the agent: cli/gitops/agent.ts, inside the site process). `init` writes a
 * repository layout; the other verbs talk to a site's control API (runtime/gitops-api.ts).
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { BranchSchema, GITOPS_MAX_INTERVAL_S, GITOPS_MIN_INTERVAL_S, RepoPathSchema, type GitopsStatus } from "../../runtime/gitops-api.ts";
import { SiteNameSchema } from "../../runtime/network-api.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { CliError } from "../errors.ts";
import { createOutput, edgefnCommand, type Output } from "../output.ts";
import { displayPath } from "../project.ts";
import { createSiteClient } from "../site-client.ts";
import { resolveTarget, TARGET_ARGS } from "../target.ts";
import { scaffoldFunction } from "./init.ts";
import { alignRows } from "./link.ts";
import { formatDuration, parseDuration } from "./token.ts";

// ---------------------------------------------------------------- init

const initArgs = {
  dir: { type: "positional", required: true, description: "Folder for the repository (new or empty)" },
  site: { type: "string", multiple: true, valueHint: "name", description: "A site to prepare sites/<name>/secrets/ for (repeatable)" },
  force: { type: "boolean", description: "Write into a folder that is not empty (existing files are kept)" },
  json: { type: "boolean", description: "Print the result as JSON" },
} as const;

const InitArgsSchema = z.object({ dir: z.string().min(1), site: z.array(SiteNameSchema), force: z.boolean(), json: z.boolean() });

const init = defineCommand({
  meta: {
    name: "init",
    description: "Write a GitOps repository layout: functions/ (with an example), sites/, README.md.",
    examples: ["edgefn gitops init ./fleet", "edgefn gitops init ./fleet --site edge-1 --site edge-2"],
  },
  args: initArgs,
  async run(ctx) {
    const a = validateArgs(ctx, initArgs, InitArgsSchema);
    const out = createOutput({ json: a.json });
    const root = path.resolve(a.dir);
    if (existsSync(root) && (await readdir(root)).length > 0 && !a.force) {
      throw new CliError("ERR_DIR_NOT_EMPTY", `${displayPath(root)} already exists and is not empty.`, {
        hint: "Choose a new folder, or pass --force to add the layout to it (existing files are kept).",
      });
    }
    const written: string[] = [];
    const write = async (rel: string, text: string) => {
      const file = path.join(root, rel);
      if (existsSync(file)) return;
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, text);
      written.push(file);
    };
    await write("README.md", readmeText());
    await write(".gitignore", "node_modules/\ndist/\n");
    await write("sites/README.md", sitesReadmeText());
    for (const site of a.site) await write(`sites/${site}/secrets/.gitkeep`, "");
    if (!existsSync(path.join(root, "functions", "hello"))) written.push(...(await scaffoldFunction(path.join(root, "functions", "hello"), "hello")));
    written.sort();

    out.data({ dir: root, files: written });
    out.success(`Wrote a GitOps repository layout in ${displayPath(root)}`);
    for (const f of written) out.log(`  ${displayPath(f)}`);
    out.log();
    out.log("Next steps:");
    out.log(`  cd ${displayPath(root)} && git init -b main && git add -A && git commit -m "edgefn functions"`);
    out.log("  git remote add origin <url> && git push -u origin main");
    out.log(`  ${edgefnCommand()} gitops attach --site <control-url> --repo <url> --branch main`);
  },
});

function readmeText(): string {
  return `# Functions for edgefn sites

Every edgefn site attached to this repository pulls it and runs the functions placed on it:

    edgefn gitops attach --site <control-url> --repo <this repository's URL> --branch main --interval 30s

## Layout

- \`functions/<name>/\`: one function per folder: \`edgefn.yaml\` and its sources
  (\`edgefn init functions/<name>\` writes one). \`spec.placement.sites\` decides which sites run
  it (globs such as \`edge-*\`; default every site).
- \`sites/<site>/secrets/\`: secrets for one site, sealed to that site's key. Only that site
  can open them; committing them is safe.

## Changing what runs

Commit and push. Each site fetches the branch every interval (or at once, when the git server
calls its webhook), builds what changed and switches to it only after the new version loaded.
A commit that does not validate or build changes nothing: every function stays at its last
good version, and \`edgefn gitops status\` names the commit, the file and the error. Removing a
function's folder removes it from the sites (unless attached with \`--no-prune\`).

## Secrets

    edgefn secret seal hello API_KEY --site <control-url> --out sites/edge-1/secrets/hello.API_KEY.sealed.json < api-key.txt

The function reads it as \`env.API_KEY\`. Never commit a secret unsealed.

## Packages

Functions may import the packages edgefn itself ships (hono, zod). Other packages: commit them
(vendored) under the function's folder, or build on a machine with them installed and deploy
with \`edgefn deploy\`.
`;
}

function sitesReadmeText(): string {
  return `# Sites

\`sites/<site>/secrets/*.sealed.json\`: secrets sealed to that site with
\`edgefn secret seal <function> <SECRET> --site <site> --out sites/<site>/secrets/<function>.<SECRET>.sealed.json\`.
A site opens only the files under its own folder, and only those sealed to its key.
`;
}

// ---------------------------------------------------------------- attach

const attachArgs = {
  repo: { type: "string", required: true, valueHint: "url|path", description: "The repository: an http(s) URL, or a local path (read by the site process)" },
  branch: { type: "string", default: "main", valueHint: "name", description: "The branch to follow" },
  path: { type: "string", default: ".", valueHint: "dir", description: "The folder in the repository that holds functions/ and sites/" },
  interval: { type: "string", default: "30s", valueHint: "duration", description: "How often to fetch: 10s, 1m, 1h (the webhook syncs at once)" },
  "no-prune": { type: "boolean", description: "Keep functions that leave the repository (default: remove them)" },
  "git-token-file": { type: "string", valueHint: "file", description: "File holding a token for an http(s) remote (default: $EDGEFN_GIT_TOKEN)" },
  "git-username": { type: "string", valueHint: "name", description: "User name sent with the token (most servers ignore it)" },
  ...TARGET_ARGS,
  json: { type: "boolean", description: "Print the result as JSON" },
} as const;

const AttachArgsSchema = z.object({
  repo: z.string().min(1),
  branch: BranchSchema,
  path: RepoPathSchema,
  interval: z.string().transform((s, ctx) => {
    const seconds = parseDuration(s);
    if (seconds === undefined || seconds < GITOPS_MIN_INTERVAL_S || seconds > GITOPS_MAX_INTERVAL_S) {
      ctx.addIssue({ code: "custom", message: `must be a duration from ${GITOPS_MIN_INTERVAL_S}s to ${formatDuration(GITOPS_MAX_INTERVAL_S)}, e.g. 30s or 5m` });
      return z.NEVER;
    }
    return seconds;
  }),
  "no-prune": z.boolean(),
  "git-token-file": z.string().min(1).optional(),
  "git-username": z.string().min(1).optional(),
  site: z.string().optional(),
  token: z.string().optional(),
  json: z.boolean(),
});

const attach = defineCommand({
  meta: {
    name: "attach",
    description: "Make a site pull its functions from a git repository, and sync once now.",
    examples: [
      "edgefn gitops attach --repo https://git.example/fleet.git --branch main --interval 30s",
      "EDGEFN_GIT_TOKEN=… edgefn gitops attach --repo https://git.example/fleet.git --path prod",
      "edgefn gitops attach --repo /srv/git/fleet.git --no-prune",
    ],
  },
  args: attachArgs,
  async run(ctx) {
    const a = validateArgs(ctx, attachArgs, AttachArgsSchema);
    const out = createOutput({ json: a.json });
    const client = createSiteClient(resolveTarget(a));
    const repo = /^[a-z][a-z0-9+.-]*:\/\//i.test(a.repo) ? a.repo : path.resolve(a.repo);
    if (/^(ssh|git):\/\//i.test(repo) || /^[^/]+@[^:]+:/.test(a.repo)) {
      throw new CliError("ERR_USAGE", `edgefn pulls over http(s) or from a local path, not over ssh: ${a.repo}`, {
        hint: "use the repository's https URL with a token (--git-token-file), or a path on the site's host",
      });
    }
    const gitToken = await readGitToken(a["git-token-file"]);
    const { gitops, webhook } = await out.task(
      `Attaching ${client.target.url} to ${repo} (${a.branch})`,
      () =>
        client.gitopsAttach({
          repo,
          branch: a.branch,
          path: a.path,
          intervalS: a.interval,
          prune: !a["no-prune"],
          ...(gitToken === undefined ? {} : { gitToken }),
          ...(a["git-username"] === undefined ? {} : { gitUsername: a["git-username"] }),
        }),
      () => "Attached",
    );
    const webhookUrl = `${client.target.url}${webhook.path}`;
    out.data({ gitops, webhook: { url: webhookUrl, token: webhook.token } });
    printStatus(out, gitops);
    out.log();
    out.log("Webhook (a push syncs at once; give the git server this URL and token):");
    out.log(`  POST ${webhookUrl}`);
    out.log(`  token ${webhook.token}   ${out.style("dim", "(Authorization: Bearer, X-Gitlab-Token, or a GitHub/Gitea webhook secret)")}`);
    if (gitops.error !== null) throw syncFailed(gitops);
  },
});

/** The token for an http(s) remote: from a file (never argv, which `ps` shows) or EDGEFN_GIT_TOKEN. */
async function readGitToken(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return process.env["EDGEFN_GIT_TOKEN"]?.trim() || undefined;
  const text = await readFile(file, "utf8").catch((err: unknown) => {
    throw new CliError("ERR_FILE_NOT_FOUND", `Could not read the git token file ${displayPath(file)}: ${(err as Error).message}.`, {
      hint: "Pass a file that holds the token (one line), or set EDGEFN_GIT_TOKEN.",
    });
  });
  const token = text.trim();
  if (token === "") throw new CliError("ERR_SECRET_EMPTY", `The git token file ${displayPath(file)} is empty.`, { hint: "Write the token into it, one line." });
  return token;
}

// ---------------------------------------------------------------- status, sync, detach

const siteArgs = { ...TARGET_ARGS, json: { type: "boolean", description: "Print the result as JSON" } } as const;
const SiteArgsSchema = z.object({ site: z.string().optional(), token: z.string().optional(), json: z.boolean() });

const status = defineCommand({
  meta: {
    name: "status",
    description: "Show the commit a site serves, each function's result, and the last error.",
    examples: ["edgefn gitops status", "edgefn gitops status --site http://127.0.0.1:9081 --json"],
  },
  args: siteArgs,
  async run(ctx) {
    const a = validateArgs(ctx, siteArgs, SiteArgsSchema);
    const out = createOutput({ json: a.json });
    const gitops = await createSiteClient(resolveTarget(a)).gitopsStatus();
    out.data({ gitops });
    printStatus(out, gitops);
  },
});

const sync = defineCommand({
  meta: {
    name: "sync",
    description: "Fetch and apply now (also retries a commit that failed); exits 1 if it did not apply.",
    examples: ["edgefn gitops sync"],
  },
  args: siteArgs,
  async run(ctx) {
    const a = validateArgs(ctx, siteArgs, SiteArgsSchema);
    const out = createOutput({ json: a.json });
    const client = createSiteClient(resolveTarget(a));
    const gitops = await out.task(`Syncing ${client.target.url}`, () => client.gitopsSync());
    out.data({ gitops });
    printStatus(out, gitops);
    if (gitops.error !== null) throw syncFailed(gitops);
  },
});

const detach = defineCommand({
  meta: {
    name: "detach",
    description: "Stop pulling from git; the site's functions stay as they are.",
    examples: ["edgefn gitops detach"],
  },
  args: siteArgs,
  async run(ctx) {
    const a = validateArgs(ctx, siteArgs, SiteArgsSchema);
    const out = createOutput({ json: a.json });
    const client = createSiteClient(resolveTarget(a));
    await client.gitopsDetach();
    out.data({ detached: true });
    out.success(`${client.target.url} no longer pulls from git; its functions stay as they are`);
  },
});

function syncFailed(gitops: GitopsStatus): CliError {
  const error = gitops.error!;
  const where = [error.file, error.commit === undefined ? undefined : `commit ${error.commit.slice(0, 12)}`].filter(Boolean).join(", ");
  return new CliError("ERR_GITOPS_FAILED", `Site ${gitops.site} did not apply ${where === "" ? "the repository" : where}: ${error.message.split("\n")[0]}`, {
    hint: error.hint ?? (gitops.state === "offline" ? "the site keeps serving and retries; check the URL and the network" : "fix it and push a new commit"),
  });
}

/** The human view of a GitopsStatus. */
export function printStatus(out: Output, s: GitopsStatus): void {
  if (!s.attached) {
    out.log(`Site ${s.site} is not attached to a git repository (\`${edgefnCommand()} gitops attach --repo <url>\`).`);
    return;
  }
  const short = (c: string) => c.slice(0, 12);
  const colour = s.state === "synced" ? "green" : s.state === "idle" ? "cyan" : "red";
  out.log(`Site ${s.site} ← ${s.repo} (branch ${s.branch}, path ${s.path}, every ${formatDuration(s.intervalS ?? 0)}${s.prune ? "" : ", no prune"})`);
  out.log(`  state    ${out.style(colour, s.state)}${s.syncing ? " (syncing now)" : ""}`);
  out.log(`  applied  ${s.applied === null ? "(nothing yet)" : `${short(s.applied.commit)} ${JSON.stringify(s.applied.message)} at ${s.applied.appliedAt}`}`);
  if (s.fetched !== null && s.fetched.commit !== s.applied?.commit) out.log(`  fetched  ${short(s.fetched.commit)} ${JSON.stringify(s.fetched.message)} at ${s.fetched.fetchedAt}`);
  if (s.offlineSince !== null) out.log(`  ${out.style("red", "offline")}  since ${s.offlineSince}: behind the remote since then; serving what it has`);
  if (s.lastCheckAt !== null) out.log(`  checked  ${s.lastCheckAt}${s.nextCheckAt === null ? "" : `, next ${s.nextCheckAt}`}`);
  if (s.error !== null) {
    const where = [s.error.commit === undefined ? undefined : `commit ${short(s.error.commit)}`, s.error.file].filter(Boolean).join(", ");
    out.log(`  ${out.style("red", "error")}    ${s.error.code}${where === "" ? "" : ` in ${where}`}`);
    for (const line of s.error.message.split("\n")) out.log(`           ${line}`);
    if (s.error.hint !== undefined) out.log(`           ${out.style("dim", s.error.hint)}`);
  }
  if (s.functions.length > 0) {
    out.log();
    const rows = [["FUNCTION", "RESULT", "VERSION", "COMMIT", "FILE"], ...s.functions.map((f) => [f.name, f.result, f.version === undefined ? "-" : `v${f.version}`, f.commit === undefined ? "-" : short(f.commit), f.file])];
    for (const line of alignRows(rows)) out.log(`  ${line}`);
  }
  if (s.skipped.length > 0) {
    out.log();
    out.log("  Not placed here:");
    for (const k of s.skipped) out.log(`    ${k.name} (${k.file}): ${k.reason}`);
  }
}

export default defineCommand({
  meta: {
    name: "gitops",
    description: "Let sites pull their functions from git: init a repository layout, attach a site, see its status.",
    examples: ["edgefn gitops init ./fleet", "edgefn gitops attach --repo https://git.example/fleet.git", "edgefn gitops status"],
  },
  subCommands: { init: async () => init, attach: async () => attach, status: async () => status, sync: async () => sync, detach: async () => detach },
});
