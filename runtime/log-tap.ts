/**
 * The worker's stdout passes through here on its way to ours, so the control API can serve
 * `edgefn logs`: the last lines are kept, and followers get new ones as they come. Lines are
 * parsed only for someone who asked for them.
 */
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { LogLineSchema, type LogLine } from "./manifest.ts";

/** Lines kept for `edgefn logs` without --follow. */
const KEPT_LINES = 2_000;

export type LogFilter = (line: LogLine) => boolean;

export class LogTap {
  private readonly recent: string[] = [];
  private readonly followers = new Set<(line: LogLine) => void>();
  private readonly out: NodeJS.WritableStream;

  constructor(out: NodeJS.WritableStream = process.stdout) {
    this.out = out;
  }

  /** Reads a worker's stdout; a new worker after a crash is attached the same way. */
  attach(stream: Readable): void {
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => this.push(line));
  }

  push(line: string): void {
    this.out.write(`${line}\n`);
    this.recent.push(line);
    if (this.recent.length > KEPT_LINES) this.recent.splice(0, this.recent.length - KEPT_LINES);
    if (this.followers.size === 0) return;
    const parsed = parse(line);
    if (parsed !== undefined) for (const follower of this.followers) follower(parsed);
  }

  /** The last `count` kept lines that pass the filter, oldest first. */
  tail(filter: LogFilter, count: number): LogLine[] {
    const lines: LogLine[] = [];
    for (let i = this.recent.length - 1; i >= 0 && lines.length < count; i--) {
      const parsed = parse(this.recent[i]!);
      if (parsed !== undefined && filter(parsed)) lines.push(parsed);
    }
    return lines.reverse();
  }

  /** Calls `onLine` for every new line that passes the filter; returns the unsubscribe. */
  follow(filter: LogFilter, onLine: (line: LogLine) => void): () => void {
    const follower = (line: LogLine) => {
      if (filter(line)) onLine(line);
    };
    this.followers.add(follower);
    return () => this.followers.delete(follower);
  }
}

function parse(line: string): LogLine | undefined {
  try {
    const result = LogLineSchema.safeParse(JSON.parse(line));
    return result.success ? result.data : undefined;
  } catch {
    return undefined; // not one of our JSON lines (a stray print): kept in stdout, not served
  }
}
