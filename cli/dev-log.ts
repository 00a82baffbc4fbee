/**
 * Pretty-prints the runtime's JSON log lines for `edgefn dev`: function console output as
 * `[hello] 3f2a1b2c msg`, requests as short access lines, other lines at warn and above
 * (info/debug only with --verbose). Lines that are not JSON are shown as they are.
 */
import type { styleText } from "node:util";
import { z } from "zod";

type Style = (format: Parameters<typeof styleText>[0], text: string) => string;

const PINO_LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
const RANK: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

const LogLineSchema = z
  .object({
    level: z.union([z.string(), z.number()]).optional(),
    scope: z.string().optional(),
    msg: z.string().optional(),
    service: z.string().optional(),
    requestId: z.string().optional(),
    method: z.string().optional(),
    path: z.string().optional(),
    status: z.number().optional(),
    ms: z.number().optional(),
  })
  .loose();

/** Fields shown elsewhere in the line, or noise in a terminal. */
const SHOWN = new Set(["level", "scope", "msg", "service", "requestId", "ts", "time", "pid", "hostname"]);

export function formatLogLine(line: string, opts: { verbose: boolean; style: Style }): string | undefined {
  const { style } = opts;
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return line;
  }
  const parsed = LogLineSchema.safeParse(raw);
  if (!parsed.success) return line;
  const l = parsed.data;
  const level = typeof l.level === "number" ? (PINO_LEVELS[l.level] ?? "info") : (l.level ?? "info");
  const rank = RANK[level] ?? 30;
  const id = l.requestId === undefined ? "" : ` ${style("dim", shortId(l.requestId))}`;
  const tag = l.service === undefined ? "" : `${style("cyan", `[${l.service}]`)}`;
  const colour = (text: string) => (rank >= 50 ? style("red", text) : rank >= 40 ? style("yellow", text) : text);

  if (l.scope === "fn") return `${tag}${id} ${colour(l.msg ?? "")}`;

  if (l.scope === "runtime:http" && l.status !== undefined && l.method !== undefined) {
    const status = l.status >= 500 ? style("red", String(l.status)) : l.status >= 400 ? style("yellow", String(l.status)) : style("green", String(l.status));
    const ms = l.ms === undefined ? "" : style("dim", ` ${Math.round(l.ms)} ms`);
    return `${tag || style("dim", "[-]")}${id} ${l.method} ${l.path ?? ""} ${status}${ms}`;
  }

  if (rank < 40 && !opts.verbose) return undefined;
  const extra = Object.entries(l)
    .filter(([k]) => !SHOWN.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const head = style("dim", `${level} ${l.scope ?? "runtime"}`);
  return [head, tag ? `${tag}${id}` : id.trim(), colour(l.msg ?? ""), extra === "" ? "" : style("dim", extra)].filter((s) => s !== "").join(" ");
}

/** UUID-length ids are long for a terminal; 8 characters tell requests apart. */
export function shortId(id: string): string {
  return id.length > 12 ? id.slice(0, 8) : id;
}
