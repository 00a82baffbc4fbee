import { mkdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useTmpDir, writeFiles, manifestYaml } from "../test/helpers/tmp.ts";
import { CliError } from "./errors.ts";
import { discoverFunctions, findManifests, formatPath, loadFunction, parseManifest } from "./project.ts";

const HEADER = "apiVersion: edgefn.dev/v1alpha1\nkind: EdgeFunction\nmetadata:\n  name: hello\n";

function errorOf(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error("expected a CliError");
}

describe("parseManifest", () => {
  it("applies the schema's defaults to a minimal manifest", () => {
    const { manifest } = parseManifest(HEADER, "/fns/hello/edgefn.yaml");
    expect(manifest.metadata.name).toBe("hello");
    expect(manifest.spec.source).toBe("./index.ts");
    expect(manifest.spec.limits.cpuMs).toBe(50);
  });

  // Each bad manifest: the error names the file, the line:col and the field path.
  it.each([
    ["a limit out of range", `${HEADER}spec:\n  limits: { cpuMs: 99999999 }\n`, "edgefn.yaml:6:20  spec.limits.cpuMs: Too big"],
    ["an unknown field", `${HEADER}spec:\n  limits:\n    cpu: 5\n`, 'edgefn.yaml:7:5  spec.limits.cpu: unknown field "cpu"'],
    ["a name that is not a DNS label", HEADER.replace("name: hello", "name: Hello_World"), "edgefn.yaml:4:9  metadata.name: must be a DNS-1123 label"],
    ["a missing name", HEADER.replace("  name: hello\n", "  labels: {}\n"), "edgefn.yaml:3:1  metadata.name: Invalid input: expected string, received undefined"],
    ["the wrong apiVersion", HEADER.replace("edgefn.dev/v1alpha1", "v1"), "edgefn.yaml:1:13  apiVersion: must be edgefn.dev/v1alpha1"],
    ["a bad priority", `${HEADER}spec:\n  priority: urgent\n`, "edgefn.yaml:6:13  spec.priority: Invalid option"],
    ["a bad egress entry", `${HEADER}spec:\n  egress: ["api.example.com"]\n`, "edgefn.yaml:6:12  spec.egress[0]: must be host:port"],
    ["a bad secret name", `${HEADER}spec:\n  secrets:\n    - name: 1KEY\n      secretRef: { name: s, key: k }\n`, "edgefn.yaml:7:13  spec.secrets[0].name: must be a variable name"],
    ["a binding name used twice", `${HEADER}spec:\n  env: { A: x }\n  services: { A: other }\n`, "edgefn.yaml:7:18  spec.services.A: binding name A is already used by env.A"],
    ["invalid YAML", `${HEADER}spec:\n  env: { A: x\n`, "edgefn.yaml:7:1  Flow map in block collection must be sufficiently indented and end with a }"],
    ["two documents", `${HEADER}---\n${HEADER}`, "edgefn.yaml:5:1  holds 2 YAML documents"],
    ["an empty file", "", "edgefn.yaml:1:1  the file is empty"],
  ])("rejects %s, naming file, line and path", (_what, yaml, expected) => {
    const err = errorOf(() => parseManifest(yaml, path.resolve("fns/hello/edgefn.yaml")));
    expect(err.code).toBe("ERR_MANIFEST_INVALID");
    expect(err.message).toBe("fns/hello/edgefn.yaml is not a valid EdgeFunction manifest.");
    expect(err.details).toContain(`fns/hello/${expected}`);
  });

  it("lists every problem, not just the first", () => {
    const err = errorOf(() =>
      parseManifest(`${HEADER}spec:\n  priority: urgent\n  limits: { cpuMs: 0 }\n`, path.resolve("edgefn.yaml")),
    );
    expect(err.details?.split("\n")).toEqual([
      expect.stringContaining("spec.priority:"),
      expect.stringContaining("spec.limits.cpuMs: Too small"),
    ]);
  });
});

describe("formatPath", () => {
  it.each([
    [["spec", "limits", "cpuMs"], "spec.limits.cpuMs"],
    [["spec", "secrets", 0, "name"], "spec.secrets[0].name"],
    [[], ""],
  ])("%j -> %s", (p, s) => expect(formatPath(p)).toBe(s));
});

describe("findManifests / discoverFunctions", () => {
  it("finds every edgefn.yaml, skipping node_modules and dot-directories", async () => {
    const dir = useTmpDir();
    writeFiles(dir, {
      "a/edgefn.yaml": manifestYaml("a"),
      "a/index.ts": "export default {}",
      "nested/deeper/b/edgefn.yaml": manifestYaml("b"),
      "nested/deeper/b/index.ts": "export default {}",
      "node_modules/pkg/edgefn.yaml": manifestYaml("pkg"),
      ".git/edgefn.yaml": manifestYaml("git"),
    });
    const files = await findManifests(dir);
    expect(files.map((f) => path.relative(dir, f))).toEqual(["a/edgefn.yaml", "nested/deeper/b/edgefn.yaml"]);
    const { functions, errors } = await discoverFunctions(dir);
    expect(functions.map((f) => f.name)).toEqual(["a", "b"]);
    expect(functions[0]!.entry).toBe(path.join(dir, "a/index.ts"));
    expect(errors).toEqual([]);
  });

  it("reports a duplicate name, naming both files, and keeps the first", async () => {
    const dir = useTmpDir();
    writeFiles(dir, {
      "one/edgefn.yaml": manifestYaml("same"),
      "one/index.ts": "",
      "two/edgefn.yaml": manifestYaml("same"),
      "two/index.ts": "",
    });
    const { functions, errors } = await discoverFunctions(dir);
    expect(functions.map((f) => f.manifestPath)).toEqual([path.join(dir, "one/edgefn.yaml")]);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.file).toBe(path.join(dir, "two/edgefn.yaml"));
    expect(errors[0]!.error.code).toBe("ERR_DUPLICATE_FUNCTION");
    expect(errors[0]!.error.message).toMatch(/"same" is declared twice: in .*one\/edgefn\.yaml and in .*two\/edgefn\.yaml/);
  });

  it("keeps loading the other functions when one manifest is bad", async () => {
    const dir = useTmpDir();
    writeFiles(dir, { "ok/edgefn.yaml": manifestYaml("ok"), "ok/index.ts": "", "bad/edgefn.yaml": "kind: Nope\n" });
    const { functions, errors } = await discoverFunctions(dir);
    expect(functions.map((f) => f.name)).toEqual(["ok"]);
    expect(errors.map((e) => e.error.code)).toEqual(["ERR_MANIFEST_INVALID"]);
  });

  it("says when there is no manifest at all, and how to make one", async () => {
    const dir = useTmpDir();
    mkdirSync(path.join(dir, "empty"));
    await expect(discoverFunctions(path.join(dir, "empty"))).rejects.toMatchObject({
      code: "ERR_MANIFEST_NOT_FOUND",
      hint: expect.stringContaining("edgefn init"),
    });
  });

  it("names spec.source and its line when the entry file is missing", async () => {
    const dir = useTmpDir();
    writeFiles(dir, { "edgefn.yaml": manifestYaml("x", "  source: ./main.ts\n") });
    await expect(loadFunction(path.join(dir, "edgefn.yaml"))).rejects.toMatchObject({
      code: "ERR_SOURCE_NOT_FOUND",
      details: expect.stringMatching(/edgefn\.yaml:6:11 {2}spec\.source: .*main\.ts not found/),
    });
  });
});
