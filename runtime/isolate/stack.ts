/**
 * Maps stack traces from a bundle (esbuild output) back to the user's sources with the
 * bundle's source map, so errors point at `index.ts:12:5`, not `index.js:3041:9`.
 */
import { SourceMap, type SourceMapPayload } from "node:module";

/** Returns a function that rewrites frames of `filename` in a stack; identity without a map. */
export function createStackMapper(filename: string, sourceMapJson: string | undefined): (stack: string) => string {
  if (sourceMapJson === undefined) return (stack) => stack;
  let map: SourceMap | null | undefined;
  const escaped = filename.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const frame = new RegExp(`${escaped}:(\\d+):(\\d+)`, "g");
  return (stack) => {
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(sourceMapJson) as SourceMapPayload);
      } catch {
        map = null;
      }
    }
    if (map === null) return stack;
    const sourceMap = map;
    return stack.replace(frame, (whole, line: string, column: string) => {
      const entry = sourceMap.findEntry(Number(line) - 1, Number(column) - 1);
      if (!("originalSource" in entry) || entry.originalSource === undefined) return whole;
      return `${shorten(entry.originalSource)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    });
  };
}

/** esbuild writes sources relative to the out dir; keep the readable tail. */
function shorten(source: string): string {
  return source.replace(/^(\.\.\/)+/, "").replace(/^file:\/\//, "");
}
