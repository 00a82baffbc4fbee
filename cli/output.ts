/**
 * Every line a human sees. Results go to stdout, errors and progress to stderr; with `--json`
 * stdout carries only JSON (one object per line) with the same facts, so scripts can parse it.
 * Colour follows the stream (TTY, NO_COLOR, FORCE_COLOR) through util.styleText.
 */
import { styleText } from "node:util";
import { isCodedError } from "./errors.ts";

type Style = Parameters<typeof styleText>[0];
type Stream = NodeJS.WritableStream & { isTTY?: boolean };

export interface OutputOptions {
  json?: boolean;
  verbose?: boolean;
  stdout?: Stream;
  stderr?: Stream;
}

export interface Output {
  readonly json: boolean;
  readonly verbose: boolean;
  /** A plain line on stdout (human mode only). */
  log(line?: string): void;
  /** `✓ text`: something finished. */
  success(text: string): void;
  /** `› text`: something is about to happen, or a fact worth a line of its own. */
  step(text: string): void;
  /** `⚠ text` on stderr (human mode only). */
  warn(text: string, hint?: string): void;
  /** A side line on stderr (human mode only): status lines, notes that must not mix with data. */
  note(text: string): void;
  /** Bytes or text to stdout as they are (human mode only): a response body. */
  raw(chunk: Uint8Array | string): void;
  /** One JSON object on stdout (--json mode only). */
  data(value: unknown): void;
  /** Runs `fn` with a spinner on a TTY; prints `✓ done` (or nothing on failure). */
  task<T>(label: string, fn: () => Promise<T>, done?: (value: T) => string): Promise<T>;
  /** Renders any error: coded errors as message + hint, anything else as a bug with its stack. */
  error(err: unknown, usage?: string): void;
  /** Colours `text` for the given stream (stdout unless `stream: "stderr"`). */
  style(format: Style, text: string, stream?: "stdout" | "stderr"): string;
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export function createOutput(opts: OutputOptions = {}): Output {
  const json = opts.json ?? false;
  const verbose = opts.verbose ?? false;
  const stdout: Stream = opts.stdout ?? process.stdout;
  const stderr: Stream = opts.stderr ?? process.stderr;
  const write = (stream: Stream, line: string) => void stream.write(`${line}\n`);
  const style = (format: Style, text: string, which: "stdout" | "stderr" = "stdout") =>
    styleText(format, text, { stream: which === "stdout" ? stdout : stderr });

  const out: Output = {
    json,
    verbose,
    style,
    log(line = "") {
      if (!json) write(stdout, line);
    },
    success(text) {
      if (!json) write(stdout, `${style("green", "✓")} ${text}`);
    },
    step(text) {
      if (!json) write(stdout, `${style("dim", "›")} ${text}`);
    },
    warn(text, hint) {
      if (json) return;
      write(stderr, `${style("yellow", "⚠")} ${text}`);
      if (hint !== undefined) write(stderr, `  ${style("dim", "hint:", "stderr")} ${hint}`);
    },
    note(text) {
      if (!json) write(stderr, text);
    },
    raw(chunk) {
      if (json || chunk.length === 0) return;
      stdout.write(chunk);
      // Keep the prompt on its own line when a body lacks a final newline.
      const last = typeof chunk === "string" ? chunk.charCodeAt(chunk.length - 1) : chunk.at(-1);
      if (last !== 0x0a && stdout.isTTY) stdout.write("\n");
    },
    data(value) {
      if (json) write(stdout, JSON.stringify(value));
    },
    async task(label, fn, done) {
      const spin = !json && stderr.isTTY === true;
      let frame = 0;
      const timer = spin
        ? setInterval(() => stderr.write(`\r${style("cyan", SPINNER[frame++ % SPINNER.length]!, "stderr")} ${label}…`), 80)
        : undefined;
      try {
        const value = await fn();
        if (spin) stderr.write("\r\x1b[2K");
        out.success(done ? done(value) : label);
        return value;
      } catch (err) {
        if (spin) stderr.write("\r\x1b[2K");
        throw err;
      } finally {
        clearInterval(timer);
      }
    },
    error(err, usage) {
      if (json) {
        write(stdout, JSON.stringify({ error: errorJSON(err) }));
        return;
      }
      for (const line of renderError(err, (f, t) => style(f, t, "stderr"))) write(stderr, line);
      if (usage !== undefined) write(stderr, `\n${usage}`);
    },
  };
  return out;
}

/** The JSON form of any error: `{code, message, hint?, details?, requestId?, issues?}`. */
export function errorJSON(err: unknown): Record<string, unknown> {
  if (isCodedError(err)) {
    const o: Record<string, unknown> = { code: err.code, message: err.message };
    for (const k of ["hint", "details", "requestId"] as const) {
      const v = err[k];
      if (typeof v === "string") o[k] = v;
    }
    // A site's ERR_MANIFEST_INVALID lists every problem as {path, message}.
    const issues = (err as { issues?: unknown }).issues;
    if (Array.isArray(issues)) o["issues"] = issues;
    return o;
  }
  return { code: "ERR_INTERNAL", message: err instanceof Error ? err.message : String(err) };
}

/** The human form: `error: message [CODE]`, indented details, `hint: …`; a bug shows its stack. */
export function renderError(err: unknown, style: (f: Style, t: string) => string = (_f, t) => t): string[] {
  if (!isCodedError(err)) {
    const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
    return [
      `${style("red", "error:")} edgefn failed unexpectedly. This is a bug in edgefn; please report it with the trace below.`,
      style("dim", stack),
    ];
  }
  const lines = [`${style("red", "error:")} ${err.message} ${style("dim", `[${err.code}]`)}`];
  if (typeof err.details === "string" && err.details !== "") {
    for (const l of err.details.split("\n")) lines.push(l === "" ? "" : `  ${l}`);
  }
  if (typeof err.requestId === "string") lines.push(`  ${style("dim", "request id:")} ${err.requestId}`);
  if (typeof err.hint === "string" && err.hint !== "") lines.push(`${style("cyan", "hint:")} ${err.hint}`);
  if (process.env["EDGEFN_DEBUG"] && err instanceof Error && err.stack) lines.push(style("dim", err.stack));
  return lines;
}

/** `1.2 KiB`, `340 B`: sizes as people read them. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** How the user runs edgefn, for the commands we print: `npx edgefn` under npx, else `edgefn`. */
export function edgefnCommand(): string {
  return process.env["npm_command"] === "exec" ? "npx edgefn" : "edgefn";
}
