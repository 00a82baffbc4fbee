/**
 * One commit, applied to one site as a whole or not at all: the tree exported from git is read
 * (every edgefn.yaml, every sealed secret under sites/<site>/secrets/), checked, the functions
 * placed here are built (only those whose inputs changed), then deployed with the site's
 * verify-then-switch rule. If anything fails — a manifest, a sealed secret, a build, a
 * verification — what this commit already switched is switched back, so every function stays
 * at its last good version; the error names the commit's file.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { GitopsFunction, GitopsSite } from "../../runtime/gitops-api.ts";
import { FunctionNameSchema, notPlacedAt, SecretNameSchema, type Deployment, type Priority } from "../../runtime/manifest.ts";
import type { Trust } from "../../runtime/network-api.ts";
import { bundleFunction, deploymentOf } from "../bundle.ts";
import { isCodedError } from "../errors.ts";
import { findManifests, loadFunction, type FunctionProject } from "../project.ts";
import { openSealed, sealedDir } from "../sealed.ts";

/** What the agent remembers of a function it applied: enough to skip an unchanged rebuild and to prune. */
export const ManagedFunctionSchema = z.object({
  name: FunctionNameSchema,
  /** Repository path of its edgefn.yaml. */
  file: z.string(),
  digest: z.string(),
  version: z.number().int().positive(),
  commit: z.string(),
  /** sha256 of the parsed manifest (defaults resolved). */
  manifestHash: z.string(),
  /** sha256 of every file that went into the bundle: checkout-relative path, or absolute outside it. */
  inputs: z.record(z.string(), z.string()),
  /** Secrets set from sealed files: name -> sha256 of the sealed file. */
  secrets: z.record(SecretNameSchema, z.string()),
});
export type ManagedFunction = z.output<typeof ManagedFunctionSchema>;

export const SkippedSchema = z.object({ name: FunctionNameSchema, file: z.string(), reason: z.string() });
export type Skipped = z.output<typeof SkippedSchema>;

export interface ApplyInput {
  /** The exported tree of the commit below the configured path. */
  checkout: string;
  /** That path in the repository ("." for the root): file names in errors and status are repository paths. */
  repoPath: string;
  commit: string;
  site: GitopsSite;
  siteName: string;
  trust: Trust;
  tier: Priority | undefined;
  /** keys/site.key (PKCS#8 PEM); undefined when the site has none. */
  privateKeyPem: string | undefined;
  /** What the previous good commit left (the functions this agent manages). */
  managed: ManagedFunction[];
  prune: boolean;
  /** Folders packages resolve from when the repository does not vendor them. */
  nodePaths: string[];
}

export interface CommitFailure {
  code: string;
  message: string;
  hint?: string;
  file?: string;
}

export type ApplyOutcome =
  | { ok: true; managed: ManagedFunction[]; functions: GitopsFunction[]; skipped: Skipped[] }
  | { ok: false; error: CommitFailure; functions: GitopsFunction[] };

/** A failure tied to a file of the commit. */
class CommitError extends Error {
  readonly failure: CommitFailure;
  constructor(failure: CommitFailure) {
    super(failure.message);
    this.failure = failure;
  }
}

interface Planned {
  fn: FunctionProject;
  file: string;
  manifestHash: string;
  secrets: Map<string, { value: string; hash: string; file: string }>;
  previous: ManagedFunction | undefined;
  /** Built when its inputs changed; undefined: unchanged, nothing to deploy. */
  build?: { deployment: Deployment; inputs: Record<string, string> };
}

export async function applyCommit(input: ApplyInput): Promise<ApplyOutcome> {
  let planned: Planned[];
  let skipped: Skipped[];
  const live = new Map(input.site.list().map((f) => [f.name, f]));
  try {
    ({ planned, skipped } = await plan(input));
    for (const p of planned) await build(input, p, live.get(p.fn.name)?.digest);
  } catch (error) {
    return { ok: false, error: failureOf(error, input, undefined), functions: [] };
  }

  // Apply: deployments first (the verification is what may fail), undone in reverse on failure.
  const undo: (() => Promise<unknown>)[] = [];
  const results: GitopsFunction[] = [];
  const managed: ManagedFunction[] = [];
  for (const p of planned) {
    const name = p.fn.name;
    const before = live.get(name);
    const secretNames = [...p.secrets.keys()].sort();
    try {
      if (before === undefined) {
        // Set before the first version serves, so its first request already sees them.
        for (const [secret, s] of p.secrets) {
          await input.site.putSecret(name, secret, s.value);
          undo.push(() => input.site.removeSecret(name, secret));
        }
      }
      let info = before;
      if (p.build !== undefined) {
        info = await input.site.deploy(p.build.deployment);
        if (before === undefined) undo.push(() => input.site.remove(name));
        else if (before.version !== info.version) undo.push(() => input.site.rollback(name, before.version));
      }
      if (info === undefined) throw new Error(`function ${name} is neither built nor live`);
      const changed = p.build !== undefined && (before === undefined || before.version !== info.version);
      const commit = changed ? input.commit : (p.previous?.commit ?? input.commit);
      results.push({ name, file: p.file, result: changed ? "deployed" : "unchanged", version: info.version, digest: info.digest, commit, secrets: secretNames });
      managed.push({
        name,
        file: p.file,
        digest: info.digest,
        version: info.version,
        commit,
        manifestHash: p.manifestHash,
        inputs: p.build?.inputs ?? p.previous?.inputs ?? {},
        secrets: Object.fromEntries([...p.secrets].map(([secret, s]) => [secret, s.hash])),
      });
    } catch (error) {
      results.push({ name, file: p.file, result: "failed", secrets: secretNames });
      for (const step of undo.reverse()) await step().catch(() => undefined);
      return { ok: false, error: failureOf(error, input, p.file), functions: results };
    }
  }

  // Secrets of functions that were live already, then what left the repository.
  for (const p of planned) {
    if (!live.has(p.fn.name)) continue;
    for (const [secret, s] of p.secrets) {
      if (p.previous?.secrets[secret] !== s.hash) await input.site.putSecret(p.fn.name, secret, s.value);
    }
    if (!input.prune) continue;
    for (const secret of Object.keys(p.previous?.secrets ?? {})) {
      if (!p.secrets.has(secret)) await input.site.removeSecret(p.fn.name, secret).catch(() => undefined);
    }
  }
  const kept = new Set(planned.map((p) => p.fn.name));
  for (const old of input.managed) {
    if (kept.has(old.name) || !input.prune || !live.has(old.name)) continue;
    await input.site.remove(old.name);
    results.push({ name: old.name, file: old.file, result: "removed", secrets: [] });
  }
  return { ok: true, managed, functions: results, skipped };
}

/** Reads and checks the whole commit: manifests, placement, sealed secrets. Throws CommitError. */
async function plan(input: ApplyInput): Promise<{ planned: Planned[]; skipped: Skipped[] }> {
  const manifests = existsSync(input.checkout) ? await findManifests(input.checkout) : [];
  const previous = new Map(input.managed.map((m) => [m.name, m]));
  const planned: Planned[] = [];
  const skipped: Skipped[] = [];
  const byName = new Map<string, string>();
  for (const manifestPath of manifests) {
    const file = toRepoPath(input, manifestPath);
    let fn: FunctionProject;
    try {
      fn = await loadFunction(manifestPath);
    } catch (error) {
      throw new CommitError(failureOf(error, input, file));
    }
    const first = byName.get(fn.name);
    if (first !== undefined) {
      throw new CommitError({
        code: "ERR_DUPLICATE_FUNCTION",
        message: `function "${fn.name}" is declared twice: in ${first} and in ${file}`,
        hint: "metadata.name must be unique in the repository; rename one of them",
        file,
      });
    }
    byName.set(fn.name, file);
    const reason = notPlacedAt(fn.manifest, input.siteName, input.trust) ?? notThisTier(fn.manifest.spec.priority, input.tier);
    if (reason !== undefined) {
      skipped.push({ name: fn.name, file, reason });
      continue;
    }
    planned.push({ fn, file, manifestHash: sha256(JSON.stringify(fn.manifest)), secrets: new Map(), previous: previous.get(fn.name) });
  }
  await readSealedSecrets(input, planned);
  return { planned, skipped };
}

function notThisTier(priority: Priority, tier: Priority | undefined): string | undefined {
  return tier === undefined || tier === priority ? undefined : `priority ${priority} runs in another tier than this runtime's (${tier})`;
}

/** Opens every sealed file under sites/<site>/secrets/ for the functions placed here. */
async function readSealedSecrets(input: ApplyInput, planned: Planned[]): Promise<void> {
  const dir = path.join(input.checkout, sealedDir(input.siteName));
  if (!existsSync(dir)) return;
  const byName = new Map(planned.map((p) => [p.fn.name, p]));
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.endsWith(".sealed.json"))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  for (const abs of files) {
    const file = toRepoPath(input, abs);
    if (input.privateKeyPem === undefined) {
      throw new CommitError({
        code: "ERR_SEALED_OPEN_FAILED",
        message: `${file} is a sealed secret, and site ${input.siteName} has no keys/site.key to open it`,
        hint: "run the site from its site directory (`edgefn site up <dir>`), which holds keys/site.key",
        file,
      });
    }
    const text = await readFile(abs, "utf8");
    let opened;
    try {
      opened = openSealed(JSON.parse(text) as unknown, { privateKeyPem: input.privateKeyPem, site: input.siteName, file });
    } catch (error) {
      const failure = error instanceof SyntaxError ? { code: "ERR_SEALED_INVALID", message: `${file} is not JSON: ${error.message}`, hint: "write it with `edgefn secret seal … --out <file>`" } : failureOf(error, input, file);
      throw new CommitError({ ...failure, file });
    }
    const target = byName.get(opened.fn);
    if (target === undefined) continue; // a function not placed here (or gone): nothing to set
    const spec = target.fn.manifest.spec;
    if (opened.name in spec.env || opened.name in spec.services) {
      throw new CommitError({
        code: "ERR_SECRET_CONFLICT",
        message: `${file} seals ${opened.name} of "${opened.fn}", which is already ${opened.name in spec.env ? "a variable in spec.env" : "a service binding"} in ${target.file}`,
        hint: "rename the secret (re-seal it) or remove that binding",
        file,
      });
    }
    target.secrets.set(opened.name, { value: opened.value, hash: sha256(text), file });
  }
}

/** Builds a function unless its manifest and every input are as the last good commit left them. */
async function build(input: ApplyInput, p: Planned, liveDigest: string | undefined): Promise<void> {
  if (p.previous !== undefined && liveDigest === p.previous.digest && p.previous.manifestHash === p.manifestHash && (await sameInputs(input.checkout, p.previous.inputs))) {
    return;
  }
  let bundle;
  try {
    bundle = await bundleFunction(p.fn.entry, toRepoPath(input, p.fn.entry), input.nodePaths);
  } catch (error) {
    const failure = failureOf(error, input, p.file);
    // The first error's own file (`functions/hello/index.ts:3:7: …`), when it is in the repository.
    const located = /^(\S+?):\d+:\d+: /m.exec(failure.message)?.[1];
    throw new CommitError(located === undefined || path.isAbsolute(located) ? failure : { ...failure, file: located });
  }
  const inputs: Record<string, string> = {};
  for (const abs of bundle.inputs) {
    const rel = path.relative(input.checkout, abs);
    const key = rel.startsWith("..") || path.isAbsolute(rel) ? abs : rel;
    inputs[key] = sha256(await readFile(abs));
  }
  p.build = { deployment: deploymentOf(p.fn, bundle), inputs };
}

async function sameInputs(checkout: string, inputs: Record<string, string>): Promise<boolean> {
  if (Object.keys(inputs).length === 0) return false;
  for (const [key, hash] of Object.entries(inputs)) {
    const abs = path.isAbsolute(key) ? key : path.join(checkout, key);
    const content = await readFile(abs).catch(() => undefined);
    if (content === undefined || sha256(content) !== hash) return false;
  }
  return true;
}

/** The repository path of a file in the checkout: what status and errors name. */
function toRepoPath(input: Pick<ApplyInput, "checkout" | "repoPath">, abs: string): string {
  const rel = path.relative(input.checkout, abs).split(path.sep).join("/");
  return input.repoPath === "." ? rel : `${input.repoPath}/${rel}`;
}

/** Any error as a CommitFailure, with checkout paths turned into repository paths. */
function failureOf(error: unknown, input: Pick<ApplyInput, "checkout" | "repoPath">, file: string | undefined): CommitFailure {
  if (error instanceof CommitError) return error.failure;
  // Errors name files as displayPath does: absolute, or relative to the working directory when shorter.
  const relative = path.relative(process.cwd(), input.checkout);
  const prefixes = [input.checkout + path.sep, ...(relative === "" ? [] : [relative + path.sep])];
  const clean = (s: string) => prefixes.reduce((text, prefix) => text.split(prefix).join(input.repoPath === "." ? "" : `${input.repoPath}/`), s);
  if (isCodedError(error)) {
    const message = error.details === undefined ? error.message : `${error.message}\n${error.details}`;
    return { code: error.code, message: clean(message), ...(error.hint === undefined ? {} : { hint: clean(error.hint) }), ...(file === undefined ? {} : { file }) };
  }
  return { code: "ERR_INTERNAL", message: clean(error instanceof Error ? error.message : String(error)), ...(file === undefined ? {} : { file }) };
}

function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
