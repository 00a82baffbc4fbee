/**
 * A small command framework in citty's shape, over node:util parseArgs: `defineCommand` for
 * inference, lazy `subCommands`, `--help` on every command, and usage errors (exit 2) that
 * print the command's usage. `runCommand` never exits; cli/main.ts turns its result into an
 * exit code.
 */
import { parseArgs } from "node:util";
import type { z } from "zod";
import { UsageError } from "./errors.ts";

export interface ArgDef {
  type: "positional" | "string" | "boolean";
  description: string;
  /** One-letter short flag, e.g. `H` for `-H`. */
  alias?: string;
  default?: string | boolean;
  required?: boolean;
  /** Repeatable string flag (`-H a -H b`) or, for the last positional, the rest. */
  multiple?: boolean;
  /** Shown in usage: `--port <port>`. */
  valueHint?: string;
}
export type ArgsDef = Record<string, ArgDef>;

type ArgValue<D extends ArgDef> = D extends { type: "boolean" }
  ? boolean
  : D extends { multiple: true }
    ? string[]
    : D extends { required: true } | { default: string }
      ? string
      : string | undefined;
export type ParsedArgs<A extends ArgsDef> = { -readonly [K in keyof A]: ArgValue<A[K]> };

export interface CommandContext<A extends ArgsDef> {
  args: ParsedArgs<A>;
  rawArgs: string[];
  /** This command's help text, for usage errors raised while validating args. */
  usage: string;
}

export interface CommandDef<A extends ArgsDef = ArgsDef> {
  meta: { name: string; description: string; version?: string; examples?: string[] };
  args?: A;
  subCommands?: Record<string, () => Promise<CommandDef>>;
  /** Returns an exit code, or nothing for 0. Throw a CliError for anything the user can fix. */
  run?(ctx: CommandContext<A>): Promise<number | void> | number | void;
}

/** Identity: lets TypeScript infer the args' literal shape (citty's defineCommand). */
export function defineCommand<const A extends ArgsDef>(def: CommandDef<A>): CommandDef<A> {
  return def;
}

export type CommandResult = { kind: "ran"; code: number } | { kind: "help"; text: string };

/** Dispatches to a subcommand, prints nothing itself: help text comes back as a result. */
export async function runCommand(cmd: CommandDef, rawArgs: string[], parents: string[] = []): Promise<CommandResult> {
  const [first, ...rest] = rawArgs;
  const sub = first !== undefined && cmd.subCommands ? cmd.subCommands[first] : undefined;
  if (sub) return runCommand(await sub(), rest, [...parents, cmd.meta.name]);

  // Usage of a command group loads every subcommand (for their descriptions): only on demand.
  const renderedUsage = () => renderUsage(cmd, parents);
  const beforeDashes = rawArgs.includes("--") ? rawArgs.slice(0, rawArgs.indexOf("--")) : rawArgs;
  if (beforeDashes.includes("--help") || beforeDashes.includes("-h")) return { kind: "help", text: await renderedUsage() };
  if (cmd.meta.version !== undefined && (first === "--version" || first === "-v")) {
    return { kind: "help", text: cmd.meta.version };
  }
  if (!cmd.run) {
    if (first === undefined) throw new UsageError("Missing command.", { usage: await renderedUsage() });
    const names = Object.keys(cmd.subCommands ?? {});
    throw new UsageError(`Unknown command "${first}".`, {
      usage: await renderedUsage(),
      hint: `Commands: ${names.join(", ")}. Run \`${[...parents, cmd.meta.name].join(" ")} --help\` for details.`,
    });
  }
  const usage = await renderedUsage();
  const args = parseCommandArgs(cmd.args ?? {}, rawArgs, usage);
  const code = await cmd.run({ args, rawArgs, usage });
  return { kind: "ran", code: code ?? 0 };
}

function parseCommandArgs(defs: ArgsDef, rawArgs: string[], usage: string): ParsedArgs<ArgsDef> {
  const options: NonNullable<Parameters<typeof parseArgs>[0]>["options"] = {};
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    options[name] = {
      type: def.type,
      ...(def.alias === undefined ? {} : { short: def.alias }),
      ...(def.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rawArgs, options, allowPositionals: true, allowNegative: true, strict: true });
  } catch (err) {
    throw new UsageError(describeParseError(err), { usage, cause: err });
  }

  const out: Record<string, unknown> = {};
  const positionals = [...parsed.positionals];
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") {
      const value = def.multiple ? positionals.splice(0) : positionals.shift();
      if ((value === undefined || (Array.isArray(value) && value.length === 0)) && def.required) {
        throw new UsageError(`Missing argument <${name}>: ${lowerFirst(def.description)}.`, { usage });
      }
      out[name] = value ?? def.default;
      continue;
    }
    const value = parsed.values[name];
    if (value === undefined) out[name] = def.multiple ? [] : def.default ?? (def.type === "boolean" ? false : undefined);
    else if (def.type === "string" && !def.multiple && Array.isArray(value)) out[name] = value.at(-1);
    else out[name] = value;
    if (def.required && out[name] === undefined) {
      throw new UsageError(`Missing option --${name}: ${lowerFirst(def.description)}.`, { usage });
    }
  }
  if (positionals.length > 0) {
    throw new UsageError(`Unexpected argument "${positionals[0]}".`, { usage });
  }
  return out as ParsedArgs<ArgsDef>;
}

/** parseArgs' messages are long and mention internals; say what was wrong in our words. */
function describeParseError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const flag = /'(-[^']*)'/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) return `Unknown option ${flag}.`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (/argument missing/.test(message)) return `Option ${optionName(message)} needs a value.`;
    if (/does not take an argument/.test(message)) return `Option ${optionName(message)} does not take a value.`;
  }
  return message;
}

function optionName(message: string): string {
  return /Option '([^']+)'/.exec(message)?.[1]?.replace(/ <value>$/, "") ?? "option";
}

/**
 * Validates parsed args with a zod schema (argv is a boundary, STYLE §5): any issue becomes a
 * usage error naming the flag or argument.
 */
export function validateArgs<S extends z.ZodType>(
  ctx: { args: object; usage: string },
  defs: ArgsDef,
  schema: S,
): z.output<S> {
  const result = schema.safeParse(ctx.args);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = String(issue.path[0] ?? "");
  const def = defs[key];
  const what = def === undefined ? key : def.type === "positional" ? `<${key}>` : `--${key}`;
  const value = (ctx.args as Record<string, unknown>)[key];
  const shown = typeof value === "string" ? ` "${value}"` : "";
  throw new UsageError(`Invalid ${what}${shown}: ${issue.message}.`, { usage: ctx.usage });
}

/** `edgefn dev <dir> [options]` with arguments, options and examples, aligned. */
export async function renderUsage(cmd: CommandDef, parents: string[] = []): Promise<string> {
  const path = [...parents, cmd.meta.name].join(" ");
  const defs = Object.entries(cmd.args ?? {});
  const positionals = defs.filter(([, d]) => d.type === "positional");
  const options = defs.filter(([, d]) => d.type !== "positional");
  const synopsis = [
    path,
    cmd.subCommands ? "<command>" : "",
    ...positionals.map(([n, d]) => (d.required ? `<${n}>` : `[${n}]`) + (d.multiple ? "..." : "")),
    "[options]",
  ].filter(Boolean);

  const rows: [string, string][] = [];
  const sections: string[] = [`${cmd.meta.description}\n\nUsage: ${synopsis.join(" ")}`];
  const table = (title: string, entries: [string, string][]) => {
    if (entries.length === 0) return;
    const width = Math.max(...entries.map(([l]) => l.length)) + 2;
    sections.push(`${title}:\n${entries.map(([l, r]) => `  ${l.padEnd(width)}${r}`.trimEnd()).join("\n")}`);
  };
  if (cmd.subCommands) {
    const subs: [string, string][] = [];
    for (const [name, load] of Object.entries(cmd.subCommands)) subs.push([name, (await load()).meta.description]);
    table("Commands", subs);
  }
  table(
    "Arguments",
    positionals.map(([n, d]) => [d.required ? `<${n}>` : `[${n}]`, d.description + defaultNote(d)]),
  );
  for (const [n, d] of options) {
    const flag = `${d.alias ? `-${d.alias}, ` : "    "}--${n}${d.type === "string" ? ` <${d.valueHint ?? n}>` : ""}`;
    rows.push([flag, d.description + defaultNote(d) + (d.multiple ? " (repeatable)" : "")]);
  }
  rows.push(["-h, --help", "Show this help"]);
  if (cmd.meta.version !== undefined) rows.push(["-v, --version", "Show the version"]);
  table("Options", rows);
  if (cmd.meta.examples?.length) sections.push(`Examples:\n${cmd.meta.examples.map((e) => `  ${e}`).join("\n")}`);
  return sections.join("\n\n");
}

function defaultNote(d: ArgDef): string {
  return typeof d.default === "string" ? ` (default: ${d.default})` : "";
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
