/**
 * The edgefn runtime: an HTTP ingress serving functions from V8 isolates, and a control API
 * to deploy them.
 *
 * @example
 * ```ts
 * import { startRuntime } from "edgefn/runtime";
 * const runtime = await startRuntime(parseRuntimeConfig({ EDGEFN_HTTP: "127.0.0.1:0", EDGEFN_CONTROL_TOKEN: token }));
 * console.log(runtime.url); // http://127.0.0.1:41235
 * await runtime.close();
 * ```
 */
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { parseRouterConfig, startRouter, type Router } from "../router/index.ts";
import type { RuntimeConfig } from "./config.ts";
import { createControlApp } from "./control.ts";
import type { GitopsAgent, GitopsAgentFactory } from "./gitops-api.ts";
import { createLogger, type Logger } from "./log.ts";
import { Network } from "./network.ts";
import { restoreFrom, Site } from "./site.ts";
import { StateStore } from "./state.ts";
import { startSupervisor, type Supervisor } from "./supervisor.ts";

export { parseRuntimeConfig, type RuntimeConfig } from "./config.ts";
export { runSiteProcess } from "./process.ts";

/** What a site process adds to the runtime: cli/site-main.ts adds the GitOps agent. */
export interface RuntimeExtensions {
  gitops?: GitopsAgentFactory;
}

export interface Runtime {
  /** Ingress base URL, e.g. http://127.0.0.1:8787 */
  url: string;
  port: number;
  controlUrl: string;
  controlPort: number;
  supervisor: Supervisor;
  site: Site;
  /** The GitOps agent, when the process runs one (cli/site-main.ts). */
  gitops: GitopsAgent | undefined;
  /** The site's own router and network, when started with EDGEFN_VAN_LISTEN. */
  van: { router: Router; network: Network; port: number; listen: { host: string; port: number } } | undefined;
  close(): Promise<void>;
}

export async function startRuntime(
  config: RuntimeConfig,
  logger: Logger = createLogger(config.EDGEFN_LOG),
  extensions: RuntimeExtensions = {},
): Promise<Runtime> {
  const siteLogger = logger.child({ site: config.EDGEFN_SITE_NAME });
  // State first: the first worker starts with every function the site had.
  const store = await StateStore.open(config.EDGEFN_STATE_DIR, config.EDGEFN_KEEP_VERSIONS);
  // The router next: it outlives the isolate host, which connects to it like any client.
  const van = config.EDGEFN_VAN_LISTEN === undefined ? undefined : await startVanRouter(config, siteLogger);
  const supervisor = await startSupervisor(
    van === undefined ? config : { ...config, EDGEFN_VAN: { host: "127.0.0.1", port: van.router.port } },
    siteLogger,
    restoreFrom(store),
  ).catch(async (error: unknown) => {
    await van?.router.close();
    throw error;
  });
  const url = `http://${hostForUrl(config.EDGEFN_HTTP.host)}:${supervisor.port}`;
  const trust = () => van?.network.trust ?? config.EDGEFN_SITE_TRUST;
  const site = new Site(store, supervisor, {
    name: config.EDGEFN_SITE_NAME,
    region: config.EDGEFN_REGION,
    ingressUrl: url,
    keepVersions: config.EDGEFN_KEEP_VERSIONS,
    trust,
    sealKey: await readSealKey(config.EDGEFN_STATE_DIR),
  });
  const gitops = await extensions
    .gitops?.({
      site,
      siteDir: config.EDGEFN_STATE_DIR,
      siteName: config.EDGEFN_SITE_NAME,
      trust,
      tier: config.EDGEFN_PRIORITY_TIER,
      logger: siteLogger.child({ scope: "runtime:gitops" }),
    })
    .catch(async (error: unknown) => {
      await supervisor.close();
      await van?.router.close();
      throw error;
    });
  const control = createAdaptorServer({
    fetch: createControlApp({ site, logs: supervisor.logs, token: config.EDGEFN_CONTROL_TOKEN, logger: siteLogger, van, gitops }).fetch,
  });
  control.listen(config.EDGEFN_CONTROL.port, config.EDGEFN_CONTROL.host);
  await once(control, "listening");
  // Loaded only when asked for: @kubernetes/client-node is large and most sites run without it.
  const kube =
    config.EDGEFN_KUBE_WATCH === undefined
      ? undefined
      : await (await import("./kube-watch.ts")).startKubeWatch({
          namespace: config.EDGEFN_KUBE_WATCH,
          site,
          siteName: config.EDGEFN_SITE_NAME,
          trust,
          tier: config.EDGEFN_PRIORITY_TIER,
          logger: siteLogger,
          deployedManifest: (name) => store.current(name)?.deployment.manifest,
        });
  const controlPort = (control.address() as AddressInfo).port;
  return {
    url,
    port: supervisor.port,
    controlUrl: `http://${hostForUrl(config.EDGEFN_CONTROL.host)}:${controlPort}`,
    controlPort,
    supervisor,
    site,
    gitops,
    van,
    async close() {
      await gitops?.close();
      await kube?.close();
      control.close();
      await supervisor.close(); // drains: its receivers detach before the router goes
      await van?.router.close();
    },
  };
}

/** The site's network identity and its router: local port for the isolate host, mutual TLS for sites. */
async function startVanRouter(config: RuntimeConfig, logger: Logger): Promise<NonNullable<Runtime["van"]>> {
  const listen = config.EDGEFN_VAN_LISTEN!;
  const network = await Network.open({ dir: config.EDGEFN_STATE_DIR, site: config.EDGEFN_SITE_NAME, trust: config.EDGEFN_SITE_TRUST, logger });
  const router = await startRouter(
    parseRouterConfig({ EDGEFN_ROUTER_LISTEN: "127.0.0.1:0", EDGEFN_ROUTER_ID: config.EDGEFN_SITE_NAME, EDGEFN_LOG: config.EDGEFN_LOG }),
    logger,
    { tls: { listen, material: network.tls() }, trust: network.trust },
  );
  network.attach(router);
  return { router, network, port: router.tlsPort!, listen };
}

/** The site's sealing public key (keys/site.pub, written by `edgefn site init`), if it has one. */
async function readSealKey(siteDir: string | undefined): Promise<string | undefined> {
  if (siteDir === undefined) return undefined;
  return readFile(join(siteDir, "keys", "site.pub"), "utf8").catch(() => undefined);
}

function hostForUrl(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
