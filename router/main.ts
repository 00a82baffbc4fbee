/**
 * Process entry of the router: environment -> config, start, print the ready line, stop
 * cleanly on SIGTERM/SIGINT. Configuration: router/config.ts.
 */
import { ConfigError, parseRouterConfig } from "./config.ts";
import { startRouter } from "./index.ts";
import { createLogger } from "./log.ts";

let config;
try {
  config = parseRouterConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

const logger = createLogger(config.EDGEFN_LOG);
const { host, port: wanted } = config.EDGEFN_ROUTER_LISTEN;
const router = await startRouter(config, logger).catch((error: unknown) => {
  const { code } = error as { code?: string };
  if (code !== "EADDRINUSE" && code !== "EACCES") throw error;
  const what = code === "EADDRINUSE" ? "is already in use" : "needs more privileges";
  process.stderr.write(`edgefn router: cannot listen on ${host}:${wanted}: the address ${what}; pick another one (EDGEFN_ROUTER_LISTEN)\n`);
  process.exit(1);
});
// The ready line goes first; log lines only after it (STYLE.md §6).
process.stdout.write(`${JSON.stringify({ event: "ready", port: router.port, id: router.id, pid: process.pid })}\n`);
logger.child({ scope: "router:link" }).info({ host, port: router.port, router: router.id }, "listening");

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  router.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
