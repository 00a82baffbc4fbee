import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { createStackMapper } from "./stack.ts";

describe("createStackMapper", () => {
  it("maps a bundle frame to the TypeScript line it came from", async () => {
    const source = ["type T = { a: number };", "", "export function boom(t: T): never {", "  throw new Error(`boom ${t.a}`);", "}"].join("\n");
    const out = await build({
      stdin: { contents: source, loader: "ts", sourcefile: "fns/hello/index.ts" },
      bundle: true,
      format: "esm",
      write: false,
      sourcemap: "external",
      outfile: "out/index.js",
    });
    const code = out.outputFiles.find((f) => f.path.endsWith(".js"))!.text;
    const map = out.outputFiles.find((f) => f.path.endsWith(".map"))!.text;
    const line = code.split("\n").findIndex((l) => l.includes("throw new Error")) + 1;
    const column = code.split("\n")[line - 1]!.indexOf("throw") + 1;
    const mapper = createStackMapper("edgefn://hello/index.js", map);
    const mapped = mapper(`Error: boom 1\n    at boom (edgefn://hello/index.js:${line}:${column})`);
    expect(mapped).toBe("Error: boom 1\n    at boom (fns/hello/index.ts:4:3)");
  });

  it("leaves stacks alone without a source map", () => {
    expect(createStackMapper("x.js", undefined)("at f (x.js:1:1)")).toBe("at f (x.js:1:1)");
  });
});
