/**
 * The ready line every edgefn process prints first on stdout (STYLE.md §6), and a reader
 * that waits for it. Other stdout lines are kept for the caller (logs), never fatal.
 */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { z } from "zod";

const PortSchema = z.number().int().min(1).max(65_535);

/** `{"event":"ready","port":…}`: the least every process announces. */
export const ReadyLineSchema = z.looseObject({ event: z.literal("ready"), port: PortSchema });
export type ReadyLine = z.output<typeof ReadyLineSchema>;

/** What `runtime/main.ts` announces: its ingress and its control API. */
export const RuntimeReadyLineSchema = ReadyLineSchema.extend({
  url: z.url(),
  controlPort: PortSchema,
  controlUrl: z.url(),
});
export type RuntimeReadyLine = z.output<typeof RuntimeReadyLineSchema>;

export interface ReadLinesOptions<T> {
  /** Schema of the ready line; lines that do not parse are kept in `lines` and skipped. */
  schema: z.ZodType<T>;
  /** Every stdout and stderr line is appended here, for assertions and failure messages. */
  lines: string[];
  /** Name used in errors, e.g. "runtime". */
  name: string;
  timeoutMs?: number;
}

/**
 * Resolves with the first stdout line that parses as JSON and matches `schema`. Rejects if
 * the child exits or `timeoutMs` passes first, quoting the last lines it printed.
 * Keeps collecting lines into `lines` afterwards, for as long as the child runs.
 */
export function readReadyLine<T>(child: ChildProcess, opts: ReadLinesOptions<T>): Promise<T> {
  const { schema, lines, name, timeoutMs = 30_000 } = opts;
  if (child.stdout === null || child.stderr === null) {
    throw new TypeError(`${name}: spawn it with stdio "pipe" so its ready line can be read`);
  }
  createInterface({ input: child.stderr }).on("line", (line) => lines.push(line));
  const stdout = createInterface({ input: child.stdout });

  return new Promise<T>((resolve, reject) => {
    let ready = false;
    const tail = () => lines.slice(-20).join("\n");
    const fail = (message: string) => {
      if (ready) return;
      ready = true; // settle once
      clearTimeout(timer);
      reject(new Error(`${message}; last output:\n${tail()}`));
    };
    const timer = setTimeout(() => fail(`${name} printed no ready line within ${timeoutMs} ms`), timeoutMs);
    stdout.on("line", (line) => {
      lines.push(line);
      if (ready) return;
      const parsed = schema.safeParse(parseJson(line));
      if (parsed.success) {
        ready = true;
        clearTimeout(timer);
        resolve(parsed.data);
      }
    });
    child.once("error", (err) => fail(`${name} could not start: ${err.message}`));
    child.once("exit", (code, signal) => fail(`${name} exited (code ${code}, signal ${signal}) before it was ready`));
  });
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
