/**
 * The state behind `edgefn dev`: which functions are served, what each was built from, and
 * the reload loop. A change rebuilds and redeploys only the functions whose inputs (from
 * esbuild's metafile) or manifest changed; a failed rebuild leaves the old version serving.
 */
import { watch, type FSWatcher } from "node:fs";
import path from "node:path";
import { bundleFunction, deploymentOf, type BundleResult } from "./bundle.ts";
import { formatLogLine } from "./dev-log.ts";
import { CliError, isCodedError } from "./errors.ts";
import type { Output } from "./output.ts";
import { discoverFunctions, displayPath, isIgnoredPath, type Discovery, type FunctionProject } from "./project.ts";
import { startRuntimeProcess, type ReadyLine, type RuntimeProcess } from "./runtime-process.ts";
import { createSiteClient, type SiteClient } from "./site-client.ts";
import { SiteApiError } from "./site-errors.ts";

export interface DevOptions {
  root: string;
  host: string;
  port: number;
  site: string;
  out: Output;
  /** Aborting stops the runtime, also while it is starting. */
  signal?: AbortSignal;
  /** The runtime entry (default runtime/main.ts); tests use a stand-in. */
  runtimeEntry?: string;
  /** Node binary for the runtime (default: the one running the cli). */
  execPath?: string;
  debounceMs?: number;
}

export interface DevSession {
  ready: ReadyLine;
  runtime: RuntimeProcess;
  /** `http://host:port/<name>/` */
  urlOf(name: string): string;
  /** Resolves after the reload loop has handled every change seen so far. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

interface Served {
  fn: FunctionProject;
  /** Files the last build read; undefined when it failed (then any change retries it). */
  inputs: Set<string> | undefined;
  /** What the runtime serves now, if anything. */
  deployed: { digest: string; manifest: string } | undefined;
}

export async function startDevSession(opts: DevOptions): Promise<DevSession> {
  const { out, root } = opts;
  const served = new Map<string, Served>();
  const shownErrors = new Map<string, string>();
  /** URLs line up under each other. */
  let nameWidth = 0;

  const discovery = await discoverFunctions(root);
  reportDiscoveryErrors(discovery);
  const builds = new Map<string, BundleResult | undefined>();
  for (const fn of discovery.functions) builds.set(fn.name, await build(fn));

  const style = (f: Parameters<Output["style"]>[0], t: string) => out.style(f, t);
  const runtime = await out.task(
    `Starting the runtime (site ${opts.site})`,
    () =>
      startRuntimeProcess({
        host: opts.host,
        port: opts.port,
        site: opts.site,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.runtimeEntry ? { entry: opts.runtimeEntry } : {}),
        ...(opts.execPath ? { execPath: opts.execPath } : {}),
        onLine(line, stream) {
          if (out.json) {
            if (stream === "stdout") out.data(safeJSON(line) ?? { event: "log", line });
            return;
          }
          if (stream === "stderr") return out.note(out.style("dim", line, "stderr"));
          const text = formatLogLine(line, { verbose: out.verbose, style });
          if (text !== undefined) out.log(text);
        },
      }),
    (r) => `Runtime ready at ${r.ready.url} (site ${opts.site})`,
  );
  const ready = runtime.ready;
  out.data({ event: "ready", url: ready.url, port: ready.port, site: opts.site });
  const control: SiteClient = createSiteClient({
    url: ready.controlUrl,
    token: runtime.token,
    from: { url: "the runtime edgefn dev started", token: "edgefn dev" },
  });
  const host = ["0.0.0.0", "::", ""].includes(opts.host) ? "127.0.0.1" : opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  const urlOf = (name: string) => `http://${host}:${ready.port}/${name}/`;

  nameWidth = Math.max(0, ...discovery.functions.map((fn) => fn.name.length));
  for (const fn of discovery.functions) {
    const bundle = builds.get(fn.name);
    const entry: Served = { fn, inputs: bundle ? new Set(bundle.inputs) : undefined, deployed: undefined };
    served.set(fn.name, entry);
    if (bundle) await deploy(entry, bundle, "initial");
  }

  out.log();
  out.log(`Watching ${displayPath(root)} for changes. Press Ctrl+C to stop.`);
  out.data({ event: "watching", dir: root });

  // Reloads run one at a time; changes seen meanwhile go into the next batch.
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let queue: Promise<void> = Promise.resolve();
  let closed = false;
  const watcher: FSWatcher = watch(root, { recursive: true }, (_event, filename) => {
    if (closed) return;
    if (filename !== null && isIgnoredPath(filename.toString())) return;
    pending.add(filename === null ? root : path.resolve(root, filename.toString()));
    clearTimeout(timer);
    timer = setTimeout(() => {
      const batch = pending;
      pending = new Set();
      queue = queue.then(() => reload(batch)).catch((err: unknown) => out.error(err));
    }, opts.debounceMs ?? 100);
  });
  watcher.on("error", (err) => out.warn(`Stopped watching ${displayPath(root)}: ${err.message}`));

  return {
    ready,
    runtime,
    urlOf,
    async idle() {
      // Wait out the debounce too, so a change written just before is included.
      while (timer !== undefined && pending.size > 0) await new Promise((r) => setTimeout(r, 20));
      await queue;
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
      await runtime.stop();
    },
  };

  async function build(fn: FunctionProject): Promise<BundleResult | undefined> {
    try {
      const bundle = await bundleFunction(fn.entry);
      for (const w of bundle.warnings) out.warn(w);
      return bundle;
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      out.error(err);
      return undefined;
    }
  }

  async function deploy(entry: Served, bundle: BundleResult, why: "initial" | "added" | "changed"): Promise<void> {
    const { fn } = entry;
    const manifest = JSON.stringify(fn.manifest);
    if (entry.deployed?.digest === bundle.digest && entry.deployed.manifest === manifest) return;
    try {
      await control.deploy(fn.name, deploymentOf(fn, bundle));
    } catch (err) {
      if (!isCodedError(err)) throw err;
      out.error({ ...pick(err), message: `Deploying ${fn.name} failed: ${err.message}` });
      if (entry.deployed) out.warn(`${fn.name}: the previous version keeps serving.`);
      return;
    }
    entry.deployed = { digest: bundle.digest, manifest };
    out.data({ event: "deployed", name: fn.name, url: urlOf(fn.name), digest: bundle.digest });
    const label = fn.name.padEnd(nameWidth);
    if (why === "changed") out.success(`Reloaded ${fn.name} ${out.style("dim", bundle.digest.slice(0, 19))}`);
    else out.success(`${label}  ${urlOf(fn.name)}`);
  }

  async function reload(changed: Set<string>): Promise<void> {
    let found: Discovery;
    try {
      found = await discoverFunctions(root);
    } catch (err) {
      if (!(err instanceof CliError) || err.code !== "ERR_MANIFEST_NOT_FOUND") throw err;
      found = { functions: [], errors: [] };
    }
    reportDiscoveryErrors(found);
    const broken = new Set(found.errors.map((e) => e.file));
    const next = new Map(found.functions.map((fn) => [fn.name, fn]));

    for (const [name, entry] of served) {
      if (next.has(name)) continue;
      if (broken.has(entry.fn.manifestPath)) {
        if (entry.deployed) out.warn(`${name}: its edgefn.yaml has errors; the previous version keeps serving.`);
        continue;
      }
      served.delete(name);
      if (!entry.deployed) continue;
      try {
        await control.remove(name).catch((err: unknown) => {
          // Already gone is what we wanted.
          if (!(err instanceof SiteApiError && err.status === 404)) throw err;
        });
        out.data({ event: "removed", name });
        out.success(`Removed ${name} (${displayPath(entry.fn.manifestPath)} is gone or renamed it)`);
      } catch (err) {
        out.error(err);
      }
    }

    for (const fn of next.values()) {
      const prev = served.get(fn.name);
      const touched =
        prev === undefined ||
        changed.has(root) ||
        (prev.inputs === undefined && [...changed].some((p) => isInside(p, fn.dir) || !claimed(p))) ||
        changed.has(fn.manifestPath) ||
        prev.fn.manifestPath !== fn.manifestPath ||
        [...changed].some((p) => prev.inputs!.has(p));
      if (!touched) continue;
      const entry: Served = prev ?? { fn, inputs: undefined, deployed: undefined };
      entry.fn = fn;
      served.set(fn.name, entry);
      const files = [...changed].filter((p) => p === fn.manifestPath || entry.inputs?.has(p)).map((p) => displayPath(p));
      if (prev) out.step(`${files.length > 0 ? files.join(", ") : "Files"} changed: rebuilding ${fn.name}`);
      const bundle = await build(fn);
      if (!bundle) {
        entry.inputs = undefined;
        if (entry.deployed) out.warn(`${fn.name}: the build failed; the previous version keeps serving.`);
        continue;
      }
      entry.inputs = new Set(bundle.inputs);
      await deploy(entry, bundle, prev?.deployed ? "changed" : "added");
    }
  }

  /** True if some served function was built from `file`. */
  function claimed(file: string): boolean {
    for (const e of served.values()) if (e.inputs?.has(file) || e.fn.manifestPath === file) return true;
    return false;
  }

  /** Prints each manifest error once, until that file's error changes. */
  function reportDiscoveryErrors(d: Discovery): void {
    const now = new Map(d.errors.map(({ file, error }) => [file, `${error.message}\n${error.details ?? ""}`]));
    for (const { file, error } of d.errors) {
      if (shownErrors.get(file) !== now.get(file)) out.error(error);
    }
    shownErrors.clear();
    for (const [k, v] of now) shownErrors.set(k, v);
  }
}

function isInside(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

function pick(err: { code: string; message: string; hint?: string | undefined }) {
  return { code: err.code, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }) };
}

function safeJSON(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
