#!/usr/bin/env node
/**
 * The `edgefn` bin, and the only place that calls process.exit: 0 ok, 1 user error,
 * 2 usage error (with usage text), 70 a bug (with its stack).
 */
import { enableCompileCache } from "node:module";

// Before the rest loads: every later run reuses the compiled code (a faster CLI start).
enableCompileCache();
const { runCommand } = await import("./command.ts");
const { exitCodeFor, UsageError } = await import("./errors.ts");
const { main } = await import("./index.ts");
const { createOutput } = await import("./output.ts");

const argv = process.argv.slice(2);
let code: number;
try {
  const result = await runCommand(main, argv);
  if (result.kind === "help") {
    createOutput().log(result.text);
    code = 0;
  } else {
    code = result.code;
  }
} catch (err) {
  // Commands create their own Output; here only the flag matters, before or after parsing.
  const output = createOutput({ json: argv.includes("--json") });
  output.error(err, err instanceof UsageError ? err.usage : undefined);
  code = exitCodeFor(err);
}
// Let stdout drain (pipes are async) before exiting.
process.stdout.write("", () => process.exit(code));
