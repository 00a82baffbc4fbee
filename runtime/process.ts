/**
 * A site process: environment -> config, start, print the ready line, stop cleanly on
 * SIGTERM/SIGINT (and when stdin closes, with EDGEFN_STDIN_LIFELINE=1). Two entries run it:
 * runtime/main.ts (the runtime image; `edgefn dev`) and cli/site-main.ts (`edgefn site up`,
 * which adds the GitOps agent). Configuration: runtime/config.ts.
 */
import { ConfigError, parseRuntimeConfig } from "./config.ts";
import { startRuntime, type RuntimeExtensions } from "./index.ts";

export async function runSiteProcess(extensions: RuntimeExtensions = {}): Promise<void> {
  let config;
  try {
    config = parseRuntimeConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }

  const runtime = await startRuntime(config, undefined, extensions).catch((error: unknown) => {
    const { code, address, port } = error as { code?: string; address?: string; port?: number };
    if (code !== "EADDRINUSE" && code !== "EACCES") throw error;
    const what = code === "EADDRINUSE" ? "is already in use" : "needs more privileges";
    process.stderr.write(`edgefn runtime: cannot listen on ${address}:${port}: the address ${what}; pick another one (EDGEFN_HTTP, EDGEFN_CONTROL)\n`);
    process.exit(1);
  });
  process.stdout.write(
    `${JSON.stringify({ event: "ready", port: runtime.port, url: runtime.url, controlPort: runtime.controlPort, controlUrl: runtime.controlUrl, ...(runtime.van === undefined ? {} : { vanPort: runtime.van.port, network: runtime.van.network.id }), site: config.EDGEFN_SITE_NAME, pid: process.pid })}\n`,
  );

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    runtime.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  if (config.EDGEFN_STDIN_LIFELINE === "1") {
    process.stdin.on("end", stop).on("close", stop).resume();
  }
}
