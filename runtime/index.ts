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
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { RuntimeConfig } from "./config.ts";
import { createControlApp } from "./control.ts";
import { createLogger, type Logger } from "./log.ts";
import { restoreFrom, Site } from "./site.ts";
import { StateStore } from "./state.ts";
import { startSupervisor, type Supervisor } from "./supervisor.ts";

export { parseRuntimeConfig, type RuntimeConfig } from "./config.ts";

export interface Runtime {
  /** Ingress base URL, e.g. http://127.0.0.1:8787 */
  url: string;
  port: number;
  controlUrl: string;
  controlPort: number;
  supervisor: Supervisor;
  site: Site;
  close(): Promise<void>;
}

export async function startRuntime(config: RuntimeConfig, logger: Logger = createLogger(config.EDGEFN_LOG)): Promise<Runtime> {
  const siteLogger = logger.child({ site: config.EDGEFN_SITE_NAME });
  // State first: the first worker starts with every function the site had.
  const store = await StateStore.open(config.EDGEFN_STATE_DIR, config.EDGEFN_KEEP_VERSIONS);
  const supervisor = await startSupervisor(config, siteLogger, restoreFrom(store));
  const url = `http://${hostForUrl(config.EDGEFN_HTTP.host)}:${supervisor.port}`;
  const site = new Site(store, supervisor, {
    name: config.EDGEFN_SITE_NAME,
    region: config.EDGEFN_REGION,
    ingressUrl: url,
    keepVersions: config.EDGEFN_KEEP_VERSIONS,
  });
  const control = createAdaptorServer({
    fetch: createControlApp({ site, logs: supervisor.logs, token: config.EDGEFN_CONTROL_TOKEN, logger: siteLogger }).fetch,
  });
  control.listen(config.EDGEFN_CONTROL.port, config.EDGEFN_CONTROL.host);
  await once(control, "listening");
  const controlPort = (control.address() as AddressInfo).port;
  return {
    url,
    port: supervisor.port,
    controlUrl: `http://${hostForUrl(config.EDGEFN_CONTROL.host)}:${controlPort}`,
    controlPort,
    supervisor,
    site,
    async close() {
      control.close();
      await supervisor.close();
    },
  };
}

function hostForUrl(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
