/**
 * The site's functions as the control API sees them: deploy, rollback, remove and secrets,
 * each durable (state.ts) before it is acknowledged and serialized per function, with the
 * isolate host (through the supervisor) switched only after it verified the new version.
 */
import { createHash } from "node:crypto";
import { RuntimeError } from "./errors.ts";
import { LoadSchema, type Load, type WorkerCall } from "./ipc.ts";
import type { Deployment, FunctionInfo, SiteInfo } from "./manifest.ts";
import { createSerializer } from "./serialize.ts";
import type { StateStore, StoredFunction } from "./state.ts";
import type { Restore, Supervisor } from "./supervisor.ts";

export interface SiteOptions {
  name: string;
  region: string;
  ingressUrl: string;
  keepVersions: number;
  /** The site's trust now (an untrusted site refuses trusted-only functions). */
  trust: () => "trusted" | "untrusted";
  /** SPKI PEM of the site's sealing key (keys/site.pub), when it has one. */
  sealKey?: string | undefined;
}

/** Puts every stored function and every secret into a new worker. */
export function restoreFrom(store: StateStore): Restore {
  return async (call) => {
    for (const fn of store.list()) {
      const current = fn.versions.find((v) => v.version === fn.current)!;
      await call({ method: "deploy", deployment: current.deployment, verify: false, version: current.version });
    }
    for (const fn of store.list()) {
      const secrets = store.secretsOf(fn.name);
      if (Object.keys(secrets).length > 0) await call({ method: "secrets", name: fn.name, secrets });
    }
  };
}

export class Site {
  private readonly store: StateStore;
  private readonly supervisor: Supervisor;
  private readonly opts: SiteOptions;
  private readonly serialize = createSerializer();

  constructor(store: StateStore, supervisor: Supervisor, opts: SiteOptions) {
    this.store = store;
    this.supervisor = supervisor;
    this.opts = opts;
  }

  info(): SiteInfo {
    const { name, region, ingressUrl, keepVersions, sealKey } = this.opts;
    return { name, region, ingressUrl, keepVersions, functions: this.store.list().length, ...(sealKey === undefined ? {} : { sealKey }) };
  }

  list(): FunctionInfo[] {
    return this.store
      .list()
      .map((fn) => this.infoOf(fn))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): FunctionInfo {
    return this.infoOf(this.require(name));
  }

  /** Verify in the isolate host, then record it durably; only then is it acknowledged. */
  deploy(deployment: Deployment): Promise<FunctionInfo> {
    const name = deployment.manifest.metadata.name;
    const actual = `sha256:${createHash("sha256").update(deployment.bundle.code, "utf8").digest("hex")}`;
    if (actual !== deployment.bundle.digest) {
      return Promise.reject(
        new RuntimeError("ERR_DIGEST_MISMATCH", `bundle of "${name}" hashes to ${actual}, not ${deployment.bundle.digest}`, {
          status: 400,
          hint: "the bundle was changed or truncated in transit: build and deploy again",
        }),
      );
    }
    if (deployment.manifest.spec.placement.trust === "trusted" && this.opts.trust() === "untrusted") {
      return Promise.reject(
        new RuntimeError("ERR_PLACEMENT", `function "${name}" may run on trusted sites only (spec.placement.trust: trusted), and site ${this.opts.name} is untrusted`, {
          status: 403,
          hint: "deploy it to a trusted site; it is reachable from here over the VAN",
        }),
      );
    }
    return this.serialize(name, async () => {
      const current = this.store.current(name);
      // The same bundle and manifest again: nothing changes, and it keeps its version and age.
      if (current !== undefined && current.digest === deployment.bundle.digest && sameManifest(current.deployment, deployment)) {
        return this.get(name);
      }
      const version = this.store.nextVersion(name);
      await this.call({ method: "deploy", deployment, verify: true, version });
      await this.durably(name, () => this.store.addVersion(name, version, deployment), current);
      return this.get(name);
    });
  }

  /** Makes an earlier kept version current again: the one before the current by default. */
  rollback(name: string, version?: number): Promise<FunctionInfo> {
    return this.serialize(name, async () => {
      const fn = this.require(name);
      const index = fn.versions.findIndex((v) => v.version === fn.current);
      const target = version === undefined ? fn.versions[index + 1] : fn.versions.find((v) => v.version === version);
      if (target === undefined) {
        const kept = fn.versions.map((v) => `v${v.version}`).join(", ");
        throw new RuntimeError(
          "ERR_VERSION_NOT_FOUND",
          version === undefined
            ? `"${name}" has no version before v${fn.current} on this site`
            : `version ${version} of "${name}" is not kept on this site`,
          { status: 409, hint: `kept versions: ${kept}; the site keeps the last ${this.opts.keepVersions} (EDGEFN_KEEP_VERSIONS)` },
        );
      }
      if (target.version === fn.current) return this.get(name);
      const previous = this.store.current(name);
      await this.call({ method: "deploy", deployment: target.deployment, verify: true, version: target.version });
      await this.durably(name, () => this.store.setCurrent(name, target.version), previous);
      return this.get(name);
    });
  }

  remove(name: string): Promise<void> {
    return this.serialize(name, async () => {
      this.require(name);
      await this.call({ method: "remove", name });
      await this.store.remove(name);
    });
  }

  putSecret(name: string, secret: string, value: string): Promise<void> {
    return this.serialize(name, async () => {
      const spec = this.store.current(name)?.deployment.manifest.spec;
      if (spec !== undefined && (secret in spec.env || secret in spec.services)) {
        throw new RuntimeError("ERR_SECRET_CONFLICT", `${secret} is already ${secret in spec.env ? "a variable in spec.env" : "a service binding"} of "${name}"`, {
          status: 409,
          hint: "pick another secret name, or remove that binding from edgefn.yaml",
        });
      }
      await this.store.putSecret(name, secret, value);
      await this.call({ method: "secrets", name, secrets: this.store.secretsOf(name) });
    });
  }

  removeSecret(name: string, secret: string): Promise<void> {
    return this.serialize(name, async () => {
      if (!(await this.store.removeSecret(name, secret))) {
        throw new RuntimeError("ERR_SECRET_NOT_FOUND", `"${name}" has no secret ${secret}`, { status: 404 });
      }
      await this.call({ method: "secrets", name, secrets: this.store.secretsOf(name) });
    });
  }

  private infoOf(fn: StoredFunction): FunctionInfo {
    const current = fn.versions.find((v) => v.version === fn.current)!;
    return {
      name: fn.name,
      version: current.version,
      digest: current.digest,
      priority: current.deployment.manifest.spec.priority,
      status: "live",
      deployedAt: current.deployedAt,
      url: `${this.opts.ingressUrl}/${fn.name}/`,
      versions: fn.versions.map(({ version, digest, deployedAt }) => ({ version, digest, deployedAt })),
      secrets: Object.keys(this.store.secretsOf(fn.name)).sort(),
    };
  }

  private require(name: string): StoredFunction {
    const fn = this.store.get(name);
    if (fn === undefined) {
      throw new RuntimeError("ERR_SERVICE_NOT_FOUND", `no function named "${name}" is deployed on this site`, {
        status: 404,
        hint: "list the site's functions with `edgefn ls`",
      });
    }
    return fn;
  }

  /** How saturated the isolate host is now, and which priorities it limits (admission.ts). */
  async load(): Promise<Load> {
    return LoadSchema.parse(await this.call({ method: "load" }));
  }

  private call(request: WorkerCall): Promise<unknown> {
    return this.supervisor.rpc(request);
  }

  /**
   * Records a change the worker already made. If the disk refuses it, the worker goes back
   * to what is on disk, so what serves is always what a restart would bring back.
   */
  private async durably(name: string, write: () => Promise<unknown>, previous: ReturnType<StateStore["current"]>): Promise<void> {
    try {
      await write();
    } catch (error) {
      const back: WorkerCall =
        previous === undefined
          ? { method: "remove", name }
          : { method: "deploy", deployment: previous.deployment, verify: false, version: previous.version };
      await this.call(back).catch(() => undefined);
      throw new RuntimeError("ERR_STATE_WRITE", `could not record the change to "${name}" on disk: ${(error as Error).message}`, {
        status: 500,
        hint: "check the site directory's free space and permissions; the previous version still serves",
        cause: error,
      });
    }
  }
}

function sameManifest(a: Deployment, b: Deployment): boolean {
  return JSON.stringify(a.manifest) === JSON.stringify(b.manifest);
}
