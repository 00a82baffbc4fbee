/**
 * Inside the isolate: `console`, formatting each call as Node's console does (util.format,
 * group indentation, console.table's box drawing) and handing one line to the host with the
 * current request's id. Levels: log/info/dir/table/count/time* -> info, debug -> debug,
 * warn/assert -> warn, error/trace -> error (Node's stdout/stderr split).
 */
import type { Host } from "./host.ts";
import { currentRequestId } from "./current.ts";
import { format } from "./format.ts";
import { inspect, type InspectOptions } from "./inspect.ts";
import { performanceNow } from "./performance.ts";

type Level = "debug" | "info" | "warn" | "error";

export function createConsole(host: Host) {
  let indent = "";
  const counts = new Map<string, number>();
  const timers = new Map<string, number>();

  const write = (level: Level, text: string) => {
    if (indent !== "") text = indent + text.replaceAll("\n", `\n${indent}`);
    host.log(level, currentRequestId(), text);
  };
  // A log call must not fail the request: a value that cannot be formatted (a revoked Proxy,
  // a throwing toString or custom inspect) is logged as a note instead of throwing.
  const safely = (level: Level, render: () => string) => {
    if (!host.logs(level)) return; // formatting costs more than the call: skip both
    let text: string;
    try {
      text = render();
    } catch (error) {
      text = `[console: could not format the arguments: ${describeError(error)}]`;
    }
    write(level, text);
  };
  const print = (level: Level, args: unknown[]) => safely(level, () => format(...args));

  const timeLog = (name: string, label: unknown, data?: unknown[]) => {
    const key = `${label}`;
    const start = timers.get(key);
    if (start === undefined) {
      write("warn", `Warning: No such label '${key}' for console.${name}()`);
      return false;
    }
    print("info", ["%s: %s", key, formatTime(performanceNow() - start), ...(data ?? [])]);
    return true;
  };

  const console = {
    log: (...args: unknown[]) => print("info", args),
    info: (...args: unknown[]) => print("info", args),
    debug: (...args: unknown[]) => print("debug", args),
    warn: (...args: unknown[]) => print("warn", args),
    error: (...args: unknown[]) => print("error", args),
    trace: function trace(...args: unknown[]) {
      safely("error", () => {
        const err = { name: "Trace", message: format(...args), stack: "" };
        Error.captureStackTrace(err, trace);
        return err.stack;
      });
    },
    dir: (object: unknown, options?: InspectOptions) => safely("info", () => inspect(object, { customInspect: false, ...options })),
    dirxml: (...args: unknown[]) => print("info", args),
    table: (data: unknown, properties?: string[]) => {
      if (data === null || typeof data !== "object") print("info", [data]);
      else safely("info", () => renderTable(data, properties));
    },
    assert: (expression: unknown, ...args: unknown[]) => {
      if (expression) return;
      if (args.length > 0 && typeof args[0] === "string") args[0] = `Assertion failed: ${args[0]}`;
      else args.unshift("Assertion failed");
      print("warn", args);
    },
    count: (label: unknown = "default") => {
      const key = `${label}`;
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      write("info", `${key}: ${count}`);
    },
    countReset: (label: unknown = "default") => {
      const key = `${label}`;
      if (!counts.delete(key)) write("warn", `Count for '${key}' does not exist`);
    },
    group: (...args: unknown[]) => {
      if (args.length > 0) print("info", args);
      indent += "  ";
    },
    groupCollapsed: (...args: unknown[]) => console.group(...args),
    groupEnd: () => {
      indent = indent.slice(0, -2);
    },
    time: (label: unknown = "default") => {
      const key = `${label}`;
      if (timers.has(key)) write("warn", `Warning: Label '${key}' already exists for console.time()`);
      else timers.set(key, performanceNow());
    },
    timeEnd: (label: unknown = "default") => {
      if (timeLog("timeEnd", label)) timers.delete(`${label}`);
    },
    timeLog: (label: unknown = "default", ...data: unknown[]) => {
      timeLog("timeLog", label, data);
    },
    clear: () => {},
    profile: () => {},
    profileEnd: () => {},
    timeStamp: () => {},
  };
  return console;
}

function describeError(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return "unknown error";
  }
}

function formatTime(ms: number): string {
  if (ms >= 60_000) {
    const minutes = Math.floor(ms / 60_000);
    const [seconds, millis] = ((ms % 60_000) / 1000).toFixed(3).split(".") as [string, string];
    return `${minutes}:${seconds.padStart(2, "0")}.${millis} (m:ss.mmm)`;
  }
  if (ms >= 1000) return `${(ms / 1000).toFixed(3)}s`;
  return `${Number(ms.toFixed(3))}ms`;
}

const tableInspect = (v: unknown): string => {
  const depth = v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 2 ? -1 : 0;
  return inspect(v, { depth, maxArrayLength: 3, breakLength: Infinity });
};

/** console.table's layout (Node's lib/internal/console/constructor.js and cli_table.js). */
function renderTable(data: object, properties?: string[]): string {
  const indexes = (n: number) => Array.from({ length: n }, (_, i) => tableInspect(i));
  if (data instanceof Map) {
    const keys: string[] = [];
    const values: string[] = [];
    for (const [k, v] of data) {
      keys.push(tableInspect(k));
      values.push(tableInspect(v));
    }
    return drawTable(["(iteration index)", "Key", "Values"], [indexes(keys.length), keys, values]);
  }
  if (data instanceof Set) {
    const values = [...data].map(tableInspect);
    return drawTable(["(iteration index)", "Values"], [indexes(values.length), values]);
  }
  const map: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  let hasPrimitives = false;
  const valuesColumn: string[] = [];
  const indexColumn = Object.keys(data);
  for (let i = 0; i < indexColumn.length; i++) {
    const item = (data as Record<string, unknown>)[indexColumn[i]!];
    const primitive = item === null || (typeof item !== "function" && typeof item !== "object");
    if (properties === undefined && primitive) {
      hasPrimitives = true;
      valuesColumn[i] = tableInspect(item);
    } else {
      for (const key of properties ?? Object.keys(item as object)) {
        map[key] ??= [];
        map[key][i] = (primitive && properties) || !Object.prototype.hasOwnProperty.call(item, key)
          ? ""
          : tableInspect((item as Record<string, unknown>)[key]);
      }
    }
  }
  const head = Object.keys(map);
  const columns = Object.values(map);
  if (hasPrimitives) {
    head.push("Values");
    columns.push(valuesColumn);
  }
  head.unshift("(index)");
  columns.unshift(indexColumn);
  return drawTable(head, columns);
}

function drawTable(head: string[], columns: string[][]): string {
  const rows: string[][] = [];
  const widths = head.map((h) => h.length);
  const longest = Math.max(0, ...columns.map((c) => c.length));
  for (let i = 0; i < head.length; i++) {
    const column = columns[i]!;
    for (let j = 0; j < longest; j++) {
      const value = Object.prototype.hasOwnProperty.call(column, j) ? column[j]! : "";
      (rows[j] ??= [])[i] = value;
      widths[i] = Math.max(widths[i] ?? 0, value.length);
    }
  }
  const renderRow = (row: string[]) => {
    let out = "│ ";
    for (let i = 0; i < row.length; i++) {
      const cell = row[i]!;
      out += cell + " ".repeat(widths[i]! - cell.length);
      if (i !== row.length - 1) out += " │ ";
    }
    return `${out} │`;
  };
  const divider = widths.map((w) => "─".repeat(w + 2));
  let result = `┌${divider.join("┬")}┐\n${renderRow(head)}\n├${divider.join("┼")}┤\n`;
  for (const row of rows) result += `${renderRow(row)}\n`;
  return `${result}└${divider.join("┴")}┘`;
}
