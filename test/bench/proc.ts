/**
 * What a process tree costs, read from /proc (Linux): resident memory and CPU time, summed
 * over a pid and its descendants (the runtime may host isolates in child processes).
 */
import { readdirSync, readFileSync } from "node:fs";

/** `pid` and its descendants, via /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    for (const child of childrenOf(p)) visit(child);
  };
  visit(pid);
  return out;
}

/** Resident memory in bytes (VmRSS) of `pid` and every descendant. */
export function treeRssBytes(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + rssKb(p) * 1024, 0);
}

/** CPU time (user + system) in ms used so far by `pid` and its live descendants. */
export function treeCpuMs(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuMs(p), 0);
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ; 100 on every Linux we run on

function cpuMs(pid: number): number {
  const stat = readOr(`/proc/${pid}/stat`, "");
  // Fields after "(comm)", which may itself contain spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}

function rssKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readOr(`/proc/${pid}/status`, ""));
  return match ? Number(match[1]) : 0;
}

function childrenOf(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return []; // exited meanwhile
  }
  return tids.flatMap((tid) =>
    readOr(`/proc/${pid}/task/${tid}/children`, "")
      .split(/\s+/)
      .filter((word) => word !== "")
      .map(Number),
  );
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}
