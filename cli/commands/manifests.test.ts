/**
 * `edgefn manifests`: the committed example (functions/kube-example/rendered/<site>, for three
 * sites: cloud, edge-1, edge-2) is what a fresh render gives, it passes every check, and placement decides which functions a site
 * gets. No cluster runs here: this is validation against the real API schemas only; where
 * kubectl is installed, `kubectl kustomize` also proves the layout builds, offline.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { DEFAULT_IMAGE, fileText } from "../kube/render.ts";
import { formatProblems, validateObjects } from "../kube/validate.ts";
import { renderManifests, writeRendered } from "./manifests.ts";

const EXAMPLE = fileURLToPath(new URL("../../functions/kube-example/", import.meta.url));
const COMMITTED = path.join(EXAMPLE, "rendered", "edge-1");

const options = { site: "edge-1", image: DEFAULT_IMAGE, namespace: "edgefn", trust: "trusted" } as const;

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "edgefn-manifests-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

function writeFunction(root: string, name: string, yaml: string): void {
  mkdirSync(path.join(root, name), { recursive: true });
  writeFileSync(path.join(root, name, "index.ts"), "export default { fetch() { return new Response('ok'); } };\n");
  writeFileSync(path.join(root, name, "edgefn.yaml"), `apiVersion: edgefn.dev/v1alpha1\nkind: EdgeFunction\nmetadata:\n  name: ${name}\n${yaml}`);
}

function kubectl(): boolean {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("edgefn manifests: the kube-example", async () => {
  const result = await renderManifests({ ...options, dirs: [EXAMPLE] });

  it("places all five functions, one per tier", () => {
    expect(result.skipped).toEqual([]);
    expect(result.placed.map((f) => [f.name, f.priority, f.pool])).toEqual([
      ["alarm", "critical", "edgefn-runtime-critical"],
      ["catalog", "normal", "edgefn-runtime-normal"],
      ["checkout", "high", "edgefn-runtime-high"],
      ["inference", "best-effort", "edgefn-runtime-best-effort"],
      ["telemetry", "low", "edgefn-runtime-low"],
    ]);
  });

  it("passes every check", () => {
    expect(formatProblems(validateObjects(result.rendered.objects))).toBe("");
  });

  it.each(["cloud", "edge-1", "edge-2"])("matches the committed rendered/%s (a fresh render, file for file)", async (site) => {
    const fresh = site === "edge-1" ? result : await renderManifests({ ...options, site, dirs: [EXAMPLE] });
    expect(formatProblems(validateObjects(fresh.rendered.objects))).toBe("");
    const again = `npx edgefn manifests functions/kube-example --site ${site} --out functions/kube-example/rendered/${site}`;
    const committed = listFiles(path.join(EXAMPLE, "rendered", site));
    expect(committed, `stale: run \`${again}\` and commit it`).toEqual(fresh.rendered.files.map((f) => f.path).sort());
    for (const file of fresh.rendered.files) {
      expect(readFileSync(path.join(EXAMPLE, "rendered", site, file.path), "utf8"), `${file.path} is stale: run \`${again}\``).toBe(fileText(file));
    }
  });

  it("leaves catalog (placement.sites: edge-*) out of cloud", async () => {
    const cloud = await renderManifests({ ...options, site: "cloud", dirs: [EXAMPLE] });
    expect(cloud.placed.map((f) => f.name)).not.toContain("catalog");
    expect(cloud.skipped.map((f) => f.name)).toEqual(["catalog"]);
  });

  it.skipIf(!kubectl())("builds with kubectl kustomize, offline", () => {
    const built = execFileSync("kubectl", ["kustomize", COMMITTED], { encoding: "utf8" });
    expect(built.match(/^kind: /gm)).toHaveLength(result.rendered.objects.length);
    const namespaced = execFileSync("kubectl", ["kustomize", path.join(COMMITTED, "namespace")], { encoding: "utf8" });
    // One metadata.namespace per object, plus the RoleBinding's ServiceAccount subject (rendered with it).
    expect(namespaced.match(/^ {2}namespace: edgefn$/gm)?.length).toBe(result.rendered.files.filter((f) => f.path.startsWith("namespace/") && !f.path.endsWith("kustomization.yaml")).flatMap((f) => f.objects).length + 1);
  });
});

describe("edgefn manifests: placement", () => {
  it("leaves out functions placed at other sites or only at trusted ones, and says why", async () => {
    const root = tempDir();
    writeFunction(root, "everywhere", "spec:\n  priority: normal\n");
    writeFunction(root, "cloud-only", "spec:\n  placement:\n    sites: [cloud]\n");
    writeFunction(root, "edges", "spec:\n  placement:\n    sites: ['edge-*']\n");
    writeFunction(root, "secret-sauce", "spec:\n  placement:\n    trust: trusted\n");

    const trusted = await renderManifests({ ...options, dirs: [root] });
    expect(trusted.placed.map((f) => f.name)).toEqual(["edges", "everywhere", "secret-sauce"]);
    expect(trusted.skipped).toEqual([{ name: "cloud-only", reason: "placement.sites [cloud] does not match site edge-1" }]);

    const untrusted = await renderManifests({ ...options, dirs: [root], trust: "untrusted" });
    expect(untrusted.placed.map((f) => f.name)).toEqual(["edges", "everywhere"]);
    expect(untrusted.skipped.map((s) => s.reason)).toEqual([
      "placement.sites [cloud] does not match site edge-1",
      "placement.trust is trusted and site edge-1 is untrusted",
    ]);
    expect(untrusted.rendered.objects.filter((o) => o.kind === "EdgeFunction").map((o) => o.metadata.name)).toEqual(["edges", "everywhere"]);
  });

  it("fails with ERR_NOTHING_PLACED when no function is placed at the site", async () => {
    const root = tempDir();
    writeFunction(root, "cloud-only", "spec:\n  placement:\n    sites: [cloud]\n");
    await expect(renderManifests({ ...options, dirs: [root] })).rejects.toMatchObject({
      code: "ERR_NOTHING_PLACED",
      message: "None of the 1 functions found is placed at site edge-1.",
      details: "cloud-only: placement.sites [cloud] does not match site edge-1",
    });
  });

  it("replaces cluster/ and namespace/ as a whole: a removed function leaves no file", async () => {
    const root = tempDir();
    const out = path.join(root, "out");
    writeFunction(root, "a", "spec:\n  priority: high\n");
    writeFunction(root, "b", "spec:\n  priority: low\n");
    await writeRendered((await renderManifests({ ...options, dirs: [root] })).rendered, out);
    expect(listFiles(out)).toContain(path.join("namespace", "functions", "b.yaml"));
    rmSync(path.join(root, "b"), { recursive: true });
    await writeRendered((await renderManifests({ ...options, dirs: [root] })).rendered, out);
    expect(listFiles(out).filter((f) => f.includes("b.yaml") || f.includes("-low"))).toEqual([]);
  });
});
