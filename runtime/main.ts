/**
 * Process entry of the runtime (the runtime image's command; `edgefn dev`): runtime/process.ts
 * does the work. `edgefn site up` runs cli/site-main.ts instead, the same plus the GitOps agent.
 */
import { enableCompileCache, getCompileCacheDir } from "node:module";

// Before anything else loads: later starts (and isolate host restarts) skip recompiling.
enableCompileCache();
const cacheDir = getCompileCacheDir();
if (cacheDir !== undefined) process.env.NODE_COMPILE_CACHE = cacheDir;

const { runSiteProcess } = await import("./process.ts");
await runSiteProcess();
