/**
 * A site's durable state: the kept versions of each function (which one is current) and the
 * functions' secrets, one file per function under `<dir>/state/`. Every change is on disk
 * before it is acknowledged: written to a temporary file, fsynced, renamed over the old one,
 * and the directory fsynced, so a crash at any moment leaves either the old file or the new
 * one, never half of one. Without a directory the state lives in memory only (`edgefn dev`).
 */
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { syncDir, writeAtomic } from "./atomic-file.ts";
import { DeploymentSchema, FunctionNameSchema, SecretNameSchema, type Deployment } from "./manifest.ts";

const StoredVersionSchema = z.object({
  version: z.number().int().positive(),
  digest: z.string(),
  deployedAt: z.string(),
  deployment: DeploymentSchema,
});
export type StoredVersion = z.output<typeof StoredVersionSchema>;

const StoredFunctionSchema = z.object({
  name: FunctionNameSchema,
  current: z.number().int().positive(),
  /** Highest version number given so far; never reused. */
  lastVersion: z.number().int().positive(),
  /** Newest first; the current one is among them. */
  versions: z.array(StoredVersionSchema).min(1),
});
export type StoredFunction = z.output<typeof StoredFunctionSchema>;

const SecretsSchema = z.record(SecretNameSchema, z.string());

export class StateStore {
  private readonly dir: string | undefined;
  private readonly keep: number;
  private readonly functions = new Map<string, StoredFunction>();
  private readonly secrets = new Map<string, Record<string, string>>();

  private constructor(dir: string | undefined, keep: number) {
    this.dir = dir;
    this.keep = keep;
  }

  /** Loads the state under `<siteDir>/state/`; a file that does not parse is an error naming it. */
  static async open(siteDir: string | undefined, keep: number): Promise<StateStore> {
    const store = new StateStore(siteDir === undefined ? undefined : join(siteDir, "state"), keep);
    if (store.dir === undefined) return store;
    for (const kind of ["functions", "secrets"] as const) {
      const dir = join(store.dir, kind);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      for (const file of await readdir(dir)) {
        const path = join(dir, file);
        if (file.includes(".tmp-")) {
          await unlink(path); // a write that never finished: the previous file is intact
          continue;
        }
        if (!file.endsWith(".json")) continue;
        const name = file.slice(0, -".json".length);
        const json: unknown = JSON.parse(await readFile(path, "utf8"));
        if (kind === "functions") store.functions.set(name, parseOrThrow(StoredFunctionSchema, json, path));
        else store.secrets.set(name, parseOrThrow(SecretsSchema, json, path));
      }
    }
    return store;
  }

  get durable(): boolean {
    return this.dir !== undefined;
  }

  list(): StoredFunction[] {
    return [...this.functions.values()];
  }

  get(name: string): StoredFunction | undefined {
    return this.functions.get(name);
  }

  current(name: string): StoredVersion | undefined {
    const fn = this.functions.get(name);
    return fn?.versions.find((v) => v.version === fn.current);
  }

  nextVersion(name: string): number {
    return (this.functions.get(name)?.lastVersion ?? 0) + 1;
  }

  /** Records a new current version, keeping the newest `keep` versions. */
  async addVersion(name: string, version: number, deployment: Deployment): Promise<StoredVersion> {
    const entry: StoredVersion = { version, digest: deployment.bundle.digest, deployedAt: new Date().toISOString(), deployment };
    const previous = this.functions.get(name);
    const fn: StoredFunction = {
      name,
      current: version,
      lastVersion: Math.max(version, previous?.lastVersion ?? 0),
      versions: [entry, ...(previous?.versions ?? [])].slice(0, this.keep),
    };
    await this.writeFunction(fn);
    return entry;
  }

  /** Makes a kept version current again (rollback). */
  async setCurrent(name: string, version: number): Promise<void> {
    const fn = this.functions.get(name);
    if (fn === undefined) throw new Error(`no stored function ${name}`);
    await this.writeFunction({ ...fn, current: version });
  }

  async remove(name: string): Promise<void> {
    if (this.dir !== undefined && this.functions.has(name)) {
      await unlink(join(this.dir, "functions", `${name}.json`));
      await syncDir(join(this.dir, "functions"));
    }
    this.functions.delete(name);
  }

  secretsOf(name: string): Record<string, string> {
    return this.secrets.get(name) ?? {};
  }

  async putSecret(name: string, secret: string, value: string): Promise<void> {
    await this.writeSecrets(name, { ...this.secretsOf(name), [secret]: value });
  }

  /** Returns false if there was no such secret. */
  async removeSecret(name: string, secret: string): Promise<boolean> {
    const { [secret]: removed, ...rest } = this.secretsOf(name);
    if (removed === undefined) return false;
    await this.writeSecrets(name, rest);
    return true;
  }

  private async writeFunction(fn: StoredFunction): Promise<void> {
    if (this.dir !== undefined) await writeAtomic(join(this.dir, "functions", `${fn.name}.json`), JSON.stringify(fn), 0o600);
    this.functions.set(fn.name, fn);
  }

  private async writeSecrets(name: string, secrets: Record<string, string>): Promise<void> {
    if (this.dir !== undefined) await writeAtomic(join(this.dir, "secrets", `${name}.json`), JSON.stringify(secrets), 0o600);
    this.secrets.set(name, secrets);
  }
}

function parseOrThrow<T extends z.ZodType>(schema: T, json: unknown, path: string): z.output<T> {
  const result = schema.safeParse(json);
  if (!result.success) throw new Error(`site state file ${path} is not valid: ${z.prettifyError(result.error)}`);
  return result.data;
}
