/**
 * `edgefn dev`'s reload loop against a stand-in runtime (test/helpers/fake-runtime.ts) with
 * the real process contract. The same flow against the real runtime is in
 * test/cli.int.test.ts.
 */
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it, onTestFinished } from "vitest";
import { NODE } from "../test/helpers/cli.ts";
import { manifestYaml, REPO, useTmpDir, writeFiles } from "../test/helpers/tmp.ts";
import { startDevSession } from "./dev-session.ts";
import { createOutput } from "./output.ts";

const FAKE = path.join(REPO, "test/helpers/fake-runtime.ts");

const fn = (reply: string) =>
  `export default { fetch(req: Request) { console.log("handling " + new URL(req.url).pathname); return new Response(${JSON.stringify(reply)}); } };\n`;

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let text = "";
  stdout.on("data", (d: Buffer) => (text += d.toString()));
  stderr.on("data", (d: Buffer) => (text += d.toString()));
  return { out: createOutput({ stdout, stderr }), text: () => text };
}

async function start(root: string, env: Record<string, string> = {}) {
  const cap = capture();
  Object.assign(process.env, env);
  onTestFinished(() => {
    for (const k of Object.keys(env)) delete process.env[k];
  });
  const session = await startDevSession({
    root,
    host: "127.0.0.1",
    port: 0,
    site: "test",
    out: cap.out,
    runtimeEntry: FAKE,
    execPath: NODE,
    debounceMs: 50,
  });
  onTestFinished(() => session.close());
  return { session, ...cap };
}

/** Polls until `check` passes: file watching and the debounce are asynchronous. */
async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe("startDevSession", () => {
  it("deploys every function, serves their URLs and reloads only what changed", async () => {
    const root = useTmpDir();
    writeFiles(root, {
      "a/edgefn.yaml": manifestYaml("alpha"),
      "a/index.ts": fn("alpha v1"),
      "b/edgefn.yaml": manifestYaml("beta"),
      "b/index.ts": fn("beta v1"),
    });
    const { session, text } = await start(root);
    const get = async (name: string) => (await fetch(`${session.urlOf(name)}x`)).text();
    expect(await get("alpha")).toBe("alpha v1");
    expect(await get("beta")).toBe("beta v1");
    expect(text()).toMatch(new RegExp(`✓ alpha +${session.urlOf("alpha")}`));
    expect(text()).toMatch(/\[alpha\] \S+ handling \/x/);

    writeFileSync(path.join(root, "a/index.ts"), fn("alpha v2"));
    await eventually(async () => expect(await get("alpha")).toBe("alpha v2"));
    await session.idle();
    expect(text()).toContain("a/index.ts changed: rebuilding alpha");
    expect(text()).not.toContain("rebuilding beta");
  });

  it("keeps the old version serving when a rebuild fails, and recovers", async () => {
    const root = useTmpDir();
    writeFiles(root, { "a/edgefn.yaml": manifestYaml("alpha"), "a/index.ts": fn("good") });
    const { session, text } = await start(root);
    const get = async () => (await fetch(session.urlOf("alpha"))).text();

    writeFileSync(path.join(root, "a/index.ts"), `import fs from "node:fs";\nconsole.log(fs);\n${fn("bad")}`);
    await eventually(async () => expect(text()).toContain("alpha: the build failed; the previous version keeps serving."));
    expect(text()).toMatch(/a\/index\.ts:1:16: Cannot import the Node\.js built-in module "node:fs"/);
    expect(await get()).toBe("good");

    writeFileSync(path.join(root, "a/index.ts"), fn("fixed"));
    await eventually(async () => expect(await get()).toBe("fixed"));
  });

  it("adds a function for a new edgefn.yaml and removes one whose file is deleted", async () => {
    const root = useTmpDir();
    writeFiles(root, { "a/edgefn.yaml": manifestYaml("alpha"), "a/index.ts": fn("alpha") });
    const { session, text } = await start(root);

    writeFiles(root, { "c/index.ts": fn("gamma") });
    writeFiles(root, { "c/edgefn.yaml": manifestYaml("gamma") });
    await eventually(async () => expect(await (await fetch(session.urlOf("gamma"))).text()).toBe("gamma"));

    rmSync(path.join(root, "a/edgefn.yaml"));
    await eventually(async () => expect((await fetch(session.urlOf("alpha"))).status).toBe(404));
    expect(text()).toContain("Removed alpha");
  });

  it("skips a function that fails to build and serves the others", async () => {
    const root = useTmpDir();
    writeFiles(root, {
      "a/edgefn.yaml": manifestYaml("alpha"),
      "a/index.ts": "export default { fetch( };\n",
      "b/edgefn.yaml": manifestYaml("beta"),
      "b/index.ts": fn("beta"),
    });
    const { session, text } = await start(root);
    expect(text()).toMatch(/error: Build of \S*a\/index\.ts failed with 1 error\. \[ERR_BUILD_FAILED\]/);
    expect(await (await fetch(session.urlOf("beta"))).text()).toBe("beta");
  });

  it("prints the control API's error for a bundle the runtime refuses, and goes on", async () => {
    const root = useTmpDir();
    writeFiles(root, {
      "a/edgefn.yaml": manifestYaml("alpha"),
      "a/index.ts": "export const notDefault = 1;\n",
      "b/edgefn.yaml": manifestYaml("beta"),
      "b/index.ts": fn("beta"),
    });
    const { session, text } = await start(root);
    expect(text()).toContain("error: Deploying alpha failed: alpha: the bundle has no default export with fetch() [ERR_MODULE_LOAD]");
    expect(text()).toContain("hint: export default { fetch }");
    expect(await (await fetch(session.urlOf("beta"))).text()).toBe("beta");
  });

  it("explains a runtime that exits before it is ready, with its output", async () => {
    const root = useTmpDir();
    writeFiles(root, { "a/edgefn.yaml": manifestYaml("alpha"), "a/index.ts": fn("alpha") });
    await expect(start(root, { FAKE_RUNTIME_FAIL: "1" })).rejects.toMatchObject({
      code: "ERR_RUNTIME_START",
      message: "The runtime exited (code 1) before it was ready.",
      details: expect.stringContaining("fake runtime: failing on purpose"),
      hint: expect.stringContaining("Something else listens on 127.0.0.1:0"),
    });
  });
});
