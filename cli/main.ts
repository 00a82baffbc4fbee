#!/usr/bin/env node
/**
 * The cli's entry (the bin, cli/edgefn.mjs, turns Node's compile cache on and imports it),
 * and the only place that calls process.exit: 0 ok, 1 user error, 2 usage error (with usage
 * text), 70 a bug (with its stack).
 */
import { runCommand } from "./command.ts";
import { exitCodeFor, UsageError } from "./errors.ts";
import { main } from "./index.ts";
import { createOutput } from "./output.ts";

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
