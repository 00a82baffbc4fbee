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
import { runCommand } from "../command.ts";
import type { FluxOptions } from "../kube/flux.ts";
import { DEFAULT_IMAGE, fileText } from "../kube/render.ts";
import { formatProblems, validateObjects } from "../kube/validate.ts";
import manifestsCommand, { renderFluxLayout, renderManifests, writeFluxLayout, writeRendered } from "./manifests.ts";
import { run } from "./van-stand-in.test-helper.ts";

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

describe("edgefn manifests --flux", () => {
  const flux: FluxOptions = { site: "edge-1", repo: "https://git.example/fleet.git", branch: "main", interval: "1m", namespace: "edgefn" };

  /** Renders `site` from `root`'s functions into the repository folder `repo`, as the command does. */
  async function renderInto(root: string, repo: string, site: string, namespace = "edgefn"): Promise<string[]> {
    const result = await renderManifests({ ...options, site, namespace, dirs: [root] });
    return writeFluxLayout(renderFluxLayout(result.rendered, { ...flux, site, namespace }), repo);
  }

  function snapshot(dir: string, under: string[]): Map<string, string> {
    return new Map(listFiles(dir).filter((f) => under.some((u) => f.startsWith(u))).map((f) => [f, readFileSync(path.join(dir, f), "utf8")]));
  }

  it("writes clusters/<site>, infrastructure/edgefn and apps/<site>; a second site leaves the first alone and shares the infrastructure byte for byte", async () => {
    const root = tempDir();
    const repo = path.join(root, "fleet");
    writeFunction(root, "a", "spec:\n  priority: high\n");
    writeFunction(root, "b", "spec:\n  priority: low\n  placement:\n    sites: [edge-1]\n");
    const written = await renderInto(root, repo, "edge-1");
    expect(written.filter((f) => !f.startsWith("apps/"))).toEqual([
      "clusters/edge-1/edgefn-source.yaml",
      "clusters/edge-1/edgefn-infrastructure.yaml",
      "clusters/edge-1/edgefn-apps.yaml",
      "infrastructure/edgefn/kustomization.yaml",
      "infrastructure/edgefn/edgefunction-crd.yaml",
      "infrastructure/edgefn/priority-classes.yaml",
    ]);
    expect(listFiles(repo)).toEqual([...written].sort());
    const edge1 = snapshot(repo, ["apps/edge-1/", "clusters/edge-1/"]);
    const infrastructure = snapshot(repo, ["infrastructure/"]);

    // Another site, another namespace: its own folders, the same infrastructure.
    await renderInto(root, repo, "edge-2", "fns");
    expect(snapshot(repo, ["apps/edge-1/", "clusters/edge-1/"])).toEqual(edge1);
    expect(snapshot(repo, ["infrastructure/"])).toEqual(infrastructure);
    expect(listFiles(path.join(repo, "apps", "edge-2")).filter((f) => f.startsWith("functions"))).toEqual([path.join("functions", "a.yaml")]);
    expect(readFileSync(path.join(repo, "apps", "edge-2", "kustomization.yaml"), "utf8")).toContain("namespace: fns\n");
  });

  it("replaces apps/<site> as a whole (a removed function leaves no file), and keeps what flux bootstrap wrote in clusters/<site>", async () => {
    const root = tempDir();
    const repo = path.join(root, "fleet");
    const bootstrap = path.join(repo, "clusters", "edge-1", "flux-system", "gotk-sync.yaml");
    mkdirSync(path.dirname(bootstrap), { recursive: true });
    writeFileSync(bootstrap, "kind: GitRepository\n");
    writeFunction(root, "a", "spec:\n  priority: high\n");
    writeFunction(root, "b", "spec:\n  priority: low\n");
    await renderInto(root, repo, "edge-1");
    expect(listFiles(repo)).toContain(path.join("apps", "edge-1", "functions", "b.yaml"));
    rmSync(path.join(root, "b"), { recursive: true });
    await renderInto(root, repo, "edge-1");
    expect(listFiles(repo).filter((f) => f.includes("b.yaml") || f.includes("-low"))).toEqual([]);
    expect(readFileSync(bootstrap, "utf8")).toBe("kind: GitRepository\n");
  });

  it("refuses to replace files it did not render (ERR_DIR_NOT_EMPTY), and writes nothing", async () => {
    const root = tempDir();
    const repo = path.join(root, "fleet");
    mkdirSync(path.join(repo, "apps", "edge-1"), { recursive: true });
    writeFileSync(path.join(repo, "apps", "edge-1", "podinfo.yaml"), "kind: HelmRelease\n");
    writeFunction(root, "a", "spec:\n  priority: high\n");
    await expect(renderInto(root, repo, "edge-1")).rejects.toMatchObject({
      code: "ERR_DIR_NOT_EMPTY",
      message: "1 file that edgefn did not render would be replaced; nothing was written.",
      details: path.join("apps", "edge-1", "podinfo.yaml"),
    });
    expect(listFiles(repo)).toEqual([path.join("apps", "edge-1", "podinfo.yaml")]);
  });

  it("fails with ERR_KUBE_INVALID naming the Flux object and field, before anything is written", async () => {
    const root = tempDir();
    writeFunction(root, "a", "spec:\n  priority: high\n");
    const result = await renderManifests({ ...options, dirs: [root] });
    expect(() => renderFluxLayout(result.rendered, { ...flux, interval: "soon" })).toThrow(
      expect.objectContaining({
        code: "ERR_KUBE_INVALID",
        message: "1 problem in the rendered Flux objects; nothing was written.",
        details: 'GitRepository/edgefn: spec.interval: "soon" is not a duration such as 1m, 30s or 1h30m',
      }),
    );
  });

  it.skipIf(!kubectl())("builds infrastructure/edgefn and apps/<site> with kubectl kustomize, offline (the kube-example)", async () => {
    const repo = tempDir();
    const result = await renderManifests({ ...options, dirs: [EXAMPLE] });
    await writeFluxLayout(renderFluxLayout(result.rendered, flux), repo);
    const infrastructure = execFileSync("kubectl", ["kustomize", path.join(repo, "infrastructure", "edgefn")], { encoding: "utf8" });
    expect(infrastructure.match(/^kind: .*$/gm)).toEqual(["kind: CustomResourceDefinition", ...Array<string>(5).fill("kind: PriorityClass")]);
    const apps = execFileSync("kubectl", ["kustomize", path.join(repo, "apps", "edge-1")], { encoding: "utf8" });
    // Everything else, the Namespace included: the same objects as the plain layout.
    expect(apps.match(/^kind: /gm)).toHaveLength(result.rendered.objects.length - 6);
    expect(apps).toMatch(/^kind: Namespace\nmetadata:\n {2}labels:\n {4}app\.kubernetes\.io\/part-of: edgefn\n {2}name: edgefn$/m);
  });

  it.each([
    [["--flux"], "--flux needs --repo <url>: the fleet repository Flux pulls, whose root is --out.", "Add --repo https://git.example/fleet.git (or ssh://git@git.example/fleet.git): the URL of the repository you commit --out to."],
    [["--repo", "https://git.example/fleet.git"], "--repo is for the Flux layout, and --flux was not given.", "Add --flux to write the Flux layout, or leave --repo out."],
    [["--branch", "main"], "--branch is for the Flux layout, and --flux was not given.", "Add --flux to write the Flux layout, or leave --branch out."],
    [["--flux", "--repo", "git@github.com:org/fleet.git"], "Invalid --repo: it is an scp-style address, which Flux cannot clone: write it as ssh://git@github.com/org/fleet.git.", "Give the URL Flux clones the fleet repository from, e.g. https://git.example/fleet.git."],
    [["--flux", "--repo", "https://user:s3cret@git.example/fleet.git"], "Invalid --repo: it carries credentials, which would be committed to git: put them in a Secret in flux-system and pass --secret-ref <name>.", "Give the URL Flux clones the fleet repository from, e.g. https://git.example/fleet.git."],
    [["--flux", "--repo", "https://git.example/fleet.git", "--branch", "a..b"], 'Invalid --branch "a..b": cannot contain \'..\'.', undefined],
    [["--flux", "--repo", "https://git.example/fleet.git", "--interval", "60"], 'Invalid --interval "60": must be a duration such as 1m, 30s or 1h30m.', undefined],
    [["--flux", "--repo", "https://git.example/fleet.git", "--secret-ref", "Git_Key"], "Invalid --secret-ref \"Git_Key\": must be a Secret name (lower-case letters, digits, '-' and '.').", undefined],
  ])("usage error before anything is read: %j", async (flags, message, hint) => {
    await expect(runCommand(manifestsCommand, ["./nowhere", "--site", "edge-1", ...flags])).rejects.toMatchObject({ code: "ERR_USAGE", message, hint });
  });

  it("--json prints the site, the repository and the files written", async () => {
    const root = tempDir();
    const repo = path.join(root, "fleet");
    mkdirSync(path.join(repo, ".git"), { recursive: true });
    writeFunction(root, "a", "spec:\n  priority: high\n");
    const r = await run(manifestsCommand, [root, "--site", "edge-1", "--flux", "--repo", "https://git.example/fleet.git", "--out", repo, "--json"]);
    expect(r.code).toBe(0);
    const data = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(data).toMatchObject({ site: "edge-1", out: repo, layout: "flux", repo: "https://git.example/fleet.git", branch: "main" });
    expect([...data.files].sort()).toEqual(listFiles(repo));
    expect(data.files).toContain("apps/edge-1/functions/a.yaml");
  });
});
