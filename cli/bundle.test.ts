import { createHash } from "node:crypto";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useTmpDir, writeFiles } from "../test/helpers/tmp.ts";
import { bundleFunction, bundleOptions, digestOf, isNodeBuiltin } from "./bundle.ts";
import { CliError } from "./errors.ts";
import { displayPath } from "./project.ts";

const TYPED = `
interface Env { GREETING: string }
type Greeting = { message: string };
import { shout } from "./lib.ts";
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const body: Greeting = { message: shout(env.GREETING) };
    return Response.json(body);
  },
};
`;

async function buildError(dir: string, entry = "index.ts"): Promise<CliError> {
  try {
    await bundleFunction(path.join(dir, entry));
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error("expected the build to fail");
}

describe("bundleFunction", () => {
  it("bundles a TypeScript function with types and local imports into one ESM file", async () => {
    const dir = useTmpDir();
    writeFiles(dir, { "index.ts": TYPED, "lib.ts": "export const shout = (s: string): string => s.toUpperCase();\n" });
    const b = await bundleFunction(path.join(dir, "index.ts"));
    expect(b.code).not.toMatch(/interface|: string/);
    expect(b.code).toMatch(/export\s*{\s*\w+ as default\s*}/);
    expect(b.code).toContain("toUpperCase");
    expect(b.inputs.sort()).toEqual([path.join(dir, "index.ts"), path.join(dir, "lib.ts")]);

    // The bundle really works as a module.
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(b.code).toString("base64")}`)) as {
      default: { fetch(r: Request, env: { GREETING: string }): Promise<Response> };
    };
    const res = await mod.default.fetch(new Request("http://x/"), { GREETING: "hi" });
    expect(await res.json()).toEqual({ message: "HI" });

    const map = JSON.parse(b.sourceMap) as { sources: string[]; sourcesContent: string[] };
    expect(map.sources.sort()).toEqual(["index.ts", "lib.ts"]);
    expect(map.sourcesContent.join("")).toContain("interface Env");
  });

  it("digest is sha256 of the code's UTF-8 bytes and stable across builds and checkouts", async () => {
    const a = useTmpDir();
    const b = useTmpDir();
    const files = { "index.ts": TYPED, "lib.ts": "export const shout = (s: string) => `${s} ✓`;\n" };
    writeFiles(a, files);
    writeFiles(b, files);
    const first = await bundleFunction(path.join(a, "index.ts"));
    const again = await bundleFunction(path.join(a, "index.ts"));
    const elsewhere = await bundleFunction(path.join(b, "index.ts"));
    expect(first.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.digest).toBe(`sha256:${createHash("sha256").update(Buffer.from(first.code, "utf8")).digest("hex")}`);
    expect(again.digest).toBe(first.digest);
    expect(elsewhere.digest).toBe(first.digest);
    expect(digestOf("✓")).toBe("sha256:" + createHash("sha256").update(Buffer.from([0xe2, 0x9c, 0x93])).digest("hex"));
  });

  it.each(["node:fs", "fs", "fs/promises", "net", "node:child_process", "os"])(
    "refuses an import of the Node built-in %s, naming the import, file:line and the fix",
    async (specifier) => {
      const dir = useTmpDir();
      writeFiles(dir, {
        "index.ts": `import { ok } from "./lib.ts";\nexport default { fetch: () => new Response(ok) };\n`,
        "lib.ts": `// a helper\nimport * as mod from "${specifier}";\nexport const ok = String(mod);\n`,
      });
      const err = await buildError(dir);
      expect(err.code).toBe("ERR_BUILD_FAILED");
      const lib = displayPath(path.join(dir, "lib.ts"));
      expect(err.details).toContain(`${lib}:2:22: Cannot import the Node.js built-in module "${specifier}"`);
      expect(err.details).toContain(`import * as mod from "${specifier}";`);
      expect(err.details).toMatch(/Remove this import and /);
    },
  );

  it("suggests the Web API that replaces a built-in", async () => {
    const dir = useTmpDir();
    writeFiles(dir, { "index.ts": `import { createHash } from "node:crypto";\nexport default { fetch: () => new Response(String(createHash)) };\n` });
    const err = await buildError(dir);
    expect(err.details).toContain("use the Web Crypto API (crypto.subtle");
  });

  it("lets an installed npm package with a built-in's name through (punycode/)", async () => {
    // tr46 (whatwg-url) imports "punycode/" to get the npm package, not Node's module.
    const dir = useTmpDir({ inRepo: true });
    writeFiles(dir, { "index.ts": `import punycode from "punycode/";\nexport default { fetch: () => new Response(punycode.toASCII("bücher.example")) };\n` });
    const b = await bundleFunction(path.join(dir, "index.ts"));
    expect(b.inputs.some((p) => p.includes(`node_modules${path.sep}punycode`))).toBe(true);
  });

  it("reports a syntax error with file:line and the source line", async () => {
    const dir = useTmpDir();
    writeFiles(dir, { "index.ts": "export default {\n  fetch() { return new Response(1 }\n};\n" });
    const err = await buildError(dir);
    expect(err.details).toMatch(/index\.ts:2:\d+: Expected "\)" but found "}"/);
    expect(err.details).toContain("2 |   fetch() { return new Response(1 }");
  });

  it("tells to install a package that does not resolve", async () => {
    const dir = useTmpDir();
    writeFiles(dir, { "index.ts": `import x from "left-pad-nowhere";\nexport default { fetch: () => new Response(x) };\n` });
    const err = await buildError(dir);
    expect(err.details).toContain('Is the package "left-pad-nowhere" installed? Run `npm install left-pad-nowhere`');
  });

  it("uses the options the isolate needs", () => {
    const o = bundleOptions("/fns/hello/index.ts");
    expect(o).toMatchObject({
      bundle: true,
      format: "esm",
      platform: "neutral",
      mainFields: ["module", "main"],
      conditions: ["workerd", "worker", "browser"],
      target: "es2023",
      sourcemap: "external",
      sourcesContent: true,
      write: false,
    });
  });
});

describe("isNodeBuiltin", () => {
  it.each([
    ["fs", true],
    ["node:fs", true],
    ["fs/promises", true],
    ["node:test", true],
    ["hono", false],
    ["./fs", false],
  ])("%s -> %s", (s, expected) => expect(isNodeBuiltin(s)).toBe(expected));
});
