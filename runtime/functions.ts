/**
 * The functions deployed in this isolate host process: the current version of each, verified
 * before it becomes current; requests already running on a replaced version finish on it.
 * The supervisor owns versions and serializes deploys of one function (supervisor.ts).
 */
import type { Logger } from "./log.ts";
import { RuntimeError } from "./errors.ts";
import type { Deployment, EdgeFunction } from "./manifest.ts";
import { createStackMapper } from "./isolate/stack.ts";
import type { IsolatePool, PoolEntry } from "./isolate/pool.ts";
import type { SandboxBinding } from "./isolate/sandbox.ts";
import type { RequestWire, ResponseWire } from "./isolate/wire.ts";

export interface DeployedFunction {
  readonly name: string;
  readonly digest: string;
  /** Given by the supervisor; counts deploys of this name, from 1. */
  readonly version: number;
  readonly manifest: EdgeFunction;
  readonly entry: PoolEntry;
  readonly deployedAt: Date;
  /** Requests in flight on this version (for limits.concurrency). */
  inflight: number;
  /** CPU time one request takes in the isolate (ms, smoothed), measured on requests that ran alone. */
  cpuPerCallMs: number;
  /** `env` strings: the manifest's variables and the function's secrets, as they are now. */
  vars(): Record<string, string>;
}

export interface FunctionTableDeps {
  pool: IsolatePool;
  logger: Logger;
  /** Host side of `fetch` from inside a function: egress-checked. */
  egress(service: string, allow: readonly string[]): (request: RequestWire) => Promise<ResponseWire>;
  /** Host side of `env.X.fetch()`: calls another function. */
  callService(caller: string, target: string, request: RequestWire, requestId: string): Promise<ResponseWire>;
}

export class FunctionTable {
  private readonly deps: FunctionTableDeps;
  private readonly current = new Map<string, DeployedFunction>();
  /** Secrets per function name; they outlive versions (set before or after a deploy). */
  private readonly secrets = new Map<string, Record<string, string>>();

  constructor(deps: FunctionTableDeps) {
    this.deps = deps;
  }

  get(name: string): DeployedFunction | undefined {
    return this.current.get(name);
  }

  list(): DeployedFunction[] {
    return [...this.current.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Verifies the deployment (digest, module evaluation in a fresh isolate), then switches.
   * `verify: false` restores a deployment verified before (after a restart): it loads on
   * its first request instead, so a restart does not start every isolate at once.
   */
  async deploy(deployment: Deployment, opts: { verify: boolean; version: number }): Promise<DeployedFunction> {
    const name = deployment.manifest.metadata.name;
    const actual = deployment.bundle.digest; // checked against the code by the site (site.ts)
    const previous = this.current.get(name);
    const fn = this.createVersion(deployment, actual, opts.version);
    // Verify: the module must evaluate and export a handler before anything switches.
    if (opts.verify) await this.deps.pool.acquire(fn.entry);
    this.current.set(name, fn);
    if (previous !== undefined) this.deps.pool.retire(previous.entry.key);
    // A restore after a restart is not news: only verified deploys are logged at info.
    this.deps.logger[opts.verify ? "info" : "debug"]({ scope: "runtime:deploy", service: name, version: opts.version, digest: actual }, `deployed ${name} v${opts.version}`);
    return fn;
  }

  /** Replaces the function's secrets; the next request sees them in `env`. */
  setSecrets(name: string, secrets: Record<string, string>): void {
    if (Object.keys(secrets).length === 0) this.secrets.delete(name);
    else this.secrets.set(name, secrets);
  }

  remove(name: string): boolean {
    const fn = this.current.get(name);
    if (fn === undefined) return false;
    this.current.delete(name);
    this.deps.pool.retire(fn.entry.key);
    this.deps.logger.info({ scope: "runtime:deploy", service: name }, `removed ${name}`);
    return true;
  }

  private createVersion(deployment: Deployment, digest: string, version: number): DeployedFunction {
    const { manifest, bundle } = deployment;
    const name = manifest.metadata.name;
    const filename = `edgefn://${name}/v${version}/index.js`;
    const fnLog = this.deps.logger.child({ scope: "fn", service: name });
    const secretsOf = () => this.secrets.get(name) ?? {};
    const binding: SandboxBinding = {
      service: name,
      cpuMs: manifest.spec.limits.cpuMs,
      log: (level, requestId, message) => fnLog[level]({ requestId }, redact(message, secretsOf())),
      fetch: this.deps.egress(name, manifest.spec.egress),
      callService: (target, request, requestId) => {
        if (!Object.values(manifest.spec.services).includes(target)) {
          return Promise.reject(new TypeError(`function "${name}" has no service binding to "${target}": add it to spec.services`));
        }
        return this.deps.callService(name, target, request, requestId);
      },
      mapStack: createStackMapper(filename, bundle.sourceMap),
    };
    return {
      name,
      digest,
      version,
      manifest,
      deployedAt: new Date(),
      inflight: 0,
      cpuPerCallMs: 0,
      vars: () => ({ ...manifest.spec.env, ...secretsOf() }),
      entry: {
        key: `${name}@${version}`,
        memoryMb: manifest.spec.limits.memoryMb,
        code: bundle.code,
        filename,
        binding,
        cachedData: undefined,
      },
    };
  }
}

/**
 * Who may call a function: with no caller (the ingress, a client over the VAN) only a public
 * one; another function only if spec.access.callers lists it (or lists nobody). Returns the
 * refusal, or undefined when the call may go ahead.
 */
export function accessDenied(fn: DeployedFunction, caller: string | undefined): RuntimeError | undefined {
  const { access } = fn.manifest.spec;
  if (caller === undefined && !access.public) {
    return new RuntimeError("ERR_NOT_PUBLIC", `function "${fn.name}" is not public`, {
      status: 403,
      hint: "call it from another function through a service binding, or set spec.access.public: true",
    });
  }
  if (caller !== undefined && access.callers !== undefined && !access.callers.includes(caller)) {
    return new RuntimeError("ERR_NOT_PUBLIC", `function "${caller}" may not call "${fn.name}": it is not in that function's spec.access.callers`, { status: 403 });
  }
  return undefined;
}

/** A function that logs one of its secrets gets `[redacted]` in the line instead. */
export function redact(message: string, secrets: Record<string, string>): string {
  let text = message;
  for (const value of Object.values(secrets)) {
    // Very short values would blank out ordinary words; they are not worth hiding anyway.
    if (value.length >= 4 && text.includes(value)) text = text.replaceAll(value, "[redacted]");
  }
  return text;
}
