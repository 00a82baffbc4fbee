/**
 * Inside the isolate: `performance`, at millisecond resolution on purpose. Functions of many
 * tenants share a host, and a sub-millisecond clock is what cache-timing (Spectre-style)
 * attacks need; Date already gives whole milliseconds and costs no host call. Workers go
 * further and freeze time between I/O; we do not, so `performance.now()` advances while code
 * runs, only coarsely.
 */

export const timeOrigin = Date.now();

export function performanceNow(): number {
  return Date.now() - timeOrigin;
}

export class Performance {
  get timeOrigin(): number {
    return timeOrigin;
  }
  now(): number {
    return performanceNow();
  }
  toJSON(): { timeOrigin: number } {
    return { timeOrigin };
  }
}
