import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EdgeFunctionSchema, type Deployment } from "./manifest.ts";
import { StateStore } from "./state.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function siteDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "edgefn-state-"));
  dirs.push(dir);
  return dir;
}

function deployment(name: string, n: number): Deployment {
  const hex = n.toString(16).padStart(64, "0");
  return {
    manifest: EdgeFunctionSchema.parse({ apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name } }),
    bundle: { code: `// ${n}`, digest: `sha256:${hex}` },
  };
}

describe("StateStore", () => {
  it("keeps the newest versions, survives a reopen, and rolls back by version", async () => {
    const dir = await siteDir();
    const store = await StateStore.open(dir, 2);
    for (let v = 1; v <= 3; v++) await store.addVersion("hello", store.nextVersion("hello"), deployment("hello", v));
    expect(store.get("hello")!.versions.map((v) => v.version)).toEqual([3, 2]);
    await store.setCurrent("hello", 2);

    const again = await StateStore.open(dir, 2);
    expect(again.get("hello")!.current).toBe(2);
    expect(again.current("hello")!.deployment.bundle.code).toBe("// 2");
    // Numbers never repeat, even after a rollback.
    expect(again.nextVersion("hello")).toBe(4);
  });

  it("stores secrets with mode 0600 and forgets removed ones", async () => {
    const dir = await siteDir();
    const store = await StateStore.open(dir, 5);
    await store.putSecret("hello", "API_KEY", "s3cret");
    expect((await stat(join(dir, "state", "secrets", "hello.json"))).mode & 0o777).toBe(0o600);
    expect((await StateStore.open(dir, 5)).secretsOf("hello")).toEqual({ API_KEY: "s3cret" });
    expect(await store.removeSecret("hello", "API_KEY")).toBe(true);
    expect(await store.removeSecret("hello", "API_KEY")).toBe(false);
    expect((await StateStore.open(dir, 5)).secretsOf("hello")).toEqual({});
  });

  it("drops a half-written temporary file and names a corrupt state file", async () => {
    const dir = await siteDir();
    const store = await StateStore.open(dir, 5);
    await store.addVersion("hello", 1, deployment("hello", 1));
    const functions = join(dir, "state", "functions");
    await writeFile(join(functions, "hello.json.tmp-abc"), "{ half");
    await StateStore.open(dir, 5);
    expect(await readdir(functions)).toEqual(["hello.json"]);
    await writeFile(join(functions, "broken.json"), JSON.stringify({ name: "broken" }));
    await expect(StateStore.open(dir, 5)).rejects.toThrow(/broken\.json is not valid/);
  });

  it("keeps everything in memory without a directory", async () => {
    const store = await StateStore.open(undefined, 5);
    await store.addVersion("hello", 1, deployment("hello", 1));
    expect(store.durable).toBe(false);
    expect(store.list()).toHaveLength(1);
  });
});
