/** The `edgefn` root command. Subcommands load lazily, so `edgefn invoke` never loads esbuild. */
import { readFileSync } from "node:fs";
import { defineCommand } from "./command.ts";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

export const main = defineCommand({
  meta: {
    name: "edgefn",
    version: pkg.version,
    description: "Build, run, deploy and call edge functions: TypeScript in V8 isolates, served over HTTP.",
    examples: [
      "edgefn init ./fns/hello",
      "edgefn dev ./fns --port 8787",
      "edgefn invoke hello /some/path --url http://127.0.0.1:8787",
      "edgefn build ./fns/hello --out ./dist",
      "edgefn site init ./site-a --name edge-a && edgefn site up ./site-a",
      "edgefn deploy ./fns --site http://127.0.0.1:9080 --token $(cat ./site-a/control.token)",
      "edgefn token create --site http://127.0.0.1:9080 --token $(cat ./site-a/control.token) > a.token",
      "edgefn link create a.token --site http://127.0.0.1:9081 --token $(cat ./site-b/control.token)",
    ],
  },
  subCommands: {
    init: () => import("./commands/init.ts").then((m) => m.default),
    build: () => import("./commands/build.ts").then((m) => m.default),
    dev: () => import("./commands/dev.ts").then((m) => m.default),
    invoke: () => import("./commands/invoke.ts").then((m) => m.default),
    deploy: () => import("./commands/deploy.ts").then((m) => m.default),
    ls: () => import("./commands/ls.ts").then((m) => m.default),
    logs: () => import("./commands/logs.ts").then((m) => m.default),
    rollback: () => import("./commands/rollback.ts").then((m) => m.default),
    rm: () => import("./commands/rm.ts").then((m) => m.default),
    secret: () => import("./commands/secret.ts").then((m) => m.default),
    site: () => import("./commands/site.ts").then((m) => m.default),
    token: () => import("./commands/token.ts").then((m) => m.default),
    link: () => import("./commands/link.ts").then((m) => m.default),
    gitops: () => import("./commands/gitops.ts").then((m) => m.default),
    status: () => import("./commands/status.ts").then((m) => m.default),
    manifests: () => import("./commands/manifests.ts").then((m) => m.default),
  },
});
