/** `edgefn site init|up`: create a site directory, and run a site from it. */
import { defineCommand } from "../command.ts";

export default defineCommand({
  meta: {
    name: "site",
    description: "Create a site (state, control token, keys) and run it.",
    examples: [
      "edgefn site init ./site-a --name edge-a --region eu-west",
      "edgefn site up ./site-a --http 127.0.0.1:8081 --control 127.0.0.1:9081",
    ],
  },
  subCommands: {
    init: () => import("./site-init.ts").then((m) => m.default),
    up: () => import("./site-up.ts").then((m) => m.default),
  },
});
