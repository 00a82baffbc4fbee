/**
 * `edgefn deploy` without --kube must not load the Kubernetes renderer, validator or client:
 * they took a plain deploy from ~0.25 s to ~1.5 s of cli start-up (deploy-to-live in
 * `npm run bench`). They are imported dynamically, inside the --kube path only.
 */
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";

const HEAVY = ["../kube-apply.ts", "../kube/render.ts", "../kube/validate.ts", "./manifests.ts", "@kubernetes/client-node", "kubernetes-models"];

it("deploy.ts imports none of the Kubernetes modules statically", () => {
  const source = readFileSync(new URL("./deploy.ts", import.meta.url), "utf8");
  const statics = [...source.matchAll(/^import\s+(?!type\b)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);
  expect(statics.filter((s) => HEAVY.includes(s!))).toEqual([]);
});
