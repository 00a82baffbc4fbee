/**
 * Process entry of a site run by `edgefn site up`: the runtime (runtime/process.ts) with the
 * GitOps agent (cli/gitops/agent.ts), which pulls the site's functions from git once attached.
 */
import { enableCompileCache, getCompileCacheDir } from "node:module";

// Before anything else loads: later starts (and isolate host restarts) skip recompiling.
enableCompileCache();
const cacheDir = getCompileCacheDir();
if (cacheDir !== undefined) process.env.NODE_COMPILE_CACHE = cacheDir;

const { runSiteProcess } = await import("../runtime/index.ts");
const { createGitopsAgent } = await import("./gitops/agent.ts");
await runSiteProcess({ gitops: createGitopsAgent });
