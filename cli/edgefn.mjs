#!/usr/bin/env node
// The `edgefn` bin. JavaScript on purpose: a TypeScript entry makes Node load its type
// stripper before any code can turn the compile cache on (~100 ms per command); from here on,
// cli/main.ts and everything it imports come from the cache.
import { enableCompileCache } from "node:module";

enableCompileCache();
await import("./main.ts");
