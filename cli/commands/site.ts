/** `edgefn site init|up|status`: create a site directory, run a site from it, and show it (as `edgefn status`). */
import { defineCommand } from "../command.ts";

export default defineCommand({
  meta: {
    name: "site",
    description: "Create a site (state, control token, keys), run it, and show its status.",
    examples: [
      "edgefn site init ./site-a --name edge-a --region eu-west",
      "edgefn site up ./site-a --http 127.0.0.1:8081 --control 127.0.0.1:9081",
    ],
  },
  subCommands: {
    init: () => import("./site-init.ts").then((m) => m.default),
    up: () => import("./site-up.ts").then((m) => m.default),
    status: () => import("./status.ts").then((m) => m.default),
  },
});
