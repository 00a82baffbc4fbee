/**
 * renderFlux and validateFlux: the Flux layout of a rendered site, and every check on its Flux
 * objects, each with a hand-broken object that fails it. Pure: no files, no cluster.
 */
import { describe, expect, it } from "vitest";
import { edgeFunction, fakeBundle, renderFive } from "./fixtures.test-helper.ts";
import { branchNameProblem, renderFlux, RENDERED_MARK, repoUrlProblem, validateFlux, type FluxLayout, type FluxOptions } from "./flux.ts";
import { fileText, renderSite } from "./render.ts";
import { formatProblems } from "./validate.ts";

const FLUX: FluxOptions = { site: "edge-1", repo: "https://git.example/fleet.git", branch: "main", interval: "1m", namespace: "edgefn" };
const layout = renderFlux(renderFive(), FLUX);

function text(l: FluxLayout, path: string): string {
  const file = l.files.find((f) => f.path === path);
  if (!file) throw new Error(`no ${path}`);
  return fileText(file);
}

/** A copy of the layout whose objects `edit` may break. */
function broken(edit: (objects: Record<string, any>[]) => void): string {
  const copy = structuredClone(layout);
  edit(copy.objects as Record<string, any>[]);
  return formatProblems(validateFlux(copy));
}

describe("renderFlux", () => {
  it("lays out clusters/<site>, infrastructure/edgefn and apps/<site>, the Namespace with the site", () => {
    expect(layout.owned).toEqual(["infrastructure/edgefn", "apps/edge-1"]);
    expect(layout.files.map((f) => f.path)).toEqual([
      "clusters/edge-1/edgefn-source.yaml",
      "clusters/edge-1/edgefn-infrastructure.yaml",
      "clusters/edge-1/edgefn-apps.yaml",
      "infrastructure/edgefn/kustomization.yaml",
      "infrastructure/edgefn/edgefunction-crd.yaml",
      "infrastructure/edgefn/priority-classes.yaml",
      "apps/edge-1/kustomization.yaml",
      "apps/edge-1/namespace.yaml",
      "apps/edge-1/rbac.yaml",
      "apps/edge-1/edgefn-runtime-critical.yaml",
      "apps/edge-1/edgefn-runtime-high.yaml",
      "apps/edge-1/edgefn-runtime-normal.yaml",
      "apps/edge-1/edgefn-runtime-low.yaml",
      "apps/edge-1/edgefn-runtime-best-effort.yaml",
      "apps/edge-1/router.yaml",
      "apps/edge-1/ingress.yaml",
      "apps/edge-1/network-policies.yaml",
      "apps/edge-1/functions/alarm.yaml",
      "apps/edge-1/functions/checkout.yaml",
      "apps/edge-1/functions/catalog.yaml",
      "apps/edge-1/functions/telemetry.yaml",
      "apps/edge-1/functions/inference.yaml",
    ]);
    expect(text(layout, "infrastructure/edgefn/kustomization.yaml")).toContain("resources:\n  - edgefunction-crd.yaml\n  - priority-classes.yaml\n");
    expect(text(layout, "apps/edge-1/kustomization.yaml")).toContain("namespace: edgefn\nresources:\n  - namespace.yaml\n  - rbac.yaml\n");
  });

  it("renders the GitRepository and the two Flux Kustomizations", () => {
    expect(text(layout, "clusters/edge-1/edgefn-source.yaml")).toMatchInlineSnapshot(`
      "# Rendered by \`edgefn manifests\`; edit the edgefn.yaml files and render again.
      # Flux fetches the fleet repository every 1m; the two Kustomizations beside this file apply its edgefn folders.

      apiVersion: source.toolkit.fluxcd.io/v1
      kind: GitRepository
      metadata:
        name: edgefn
        namespace: flux-system
        labels:
          app.kubernetes.io/part-of: edgefn
      spec:
        interval: 1m
        url: https://git.example/fleet.git
        ref:
          branch: main
      "
    `);
    expect(text(layout, "clusters/edge-1/edgefn-infrastructure.yaml")).toMatchInlineSnapshot(`
      "# Rendered by \`edgefn manifests\`; edit the edgefn.yaml files and render again.
      # Cluster-scoped, the same for every site: the EdgeFunction CRD and the PriorityClasses.
      # wait: the apps wait until the CRD is established.

      apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      metadata:
        name: edgefn-infrastructure
        namespace: flux-system
        labels:
          app.kubernetes.io/part-of: edgefn
      spec:
        interval: 10m
        retryInterval: 1m
        timeout: 5m
        path: ./infrastructure/edgefn
        prune: true
        wait: true
        sourceRef:
          kind: GitRepository
          name: edgefn
      "
    `);
    expect(text(layout, "clusters/edge-1/edgefn-apps.yaml")).toMatchInlineSnapshot(`
      "# Rendered by \`edgefn manifests\`; edit the edgefn.yaml files and render again.
      # Site edge-1: its namespace (edgefn), runtime pools, router, Services, NetworkPolicies and functions.
      # The Secret edgefn-control (key: token) in edgefn is not in git: create it once.

      apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      metadata:
        name: edgefn-apps
        namespace: flux-system
        labels:
          app.kubernetes.io/part-of: edgefn
      spec:
        interval: 10m
        retryInterval: 1m
        dependsOn:
          - name: edgefn-infrastructure
        path: ./apps/edge-1
        prune: true
        sourceRef:
          kind: GitRepository
          name: edgefn
      "
    `);
  });

  it("names the credentials Secret when given --secret-ref", () => {
    const l = renderFlux(renderFive(), { ...FLUX, repo: "ssh://git@git.example/fleet.git", secretRef: "edgefn-auth" });
    expect(text(l, "clusters/edge-1/edgefn-source.yaml")).toContain("  url: ssh://git@git.example/fleet.git\n  ref:\n    branch: main\n  secretRef:\n    name: edgefn-auth\n");
    expect(formatProblems(validateFlux(l))).toBe("");
  });

  it("renders infrastructure/edgefn byte for byte the same for another site, namespace, trust and functions", () => {
    const other = renderSite({
      site: "edge-2",
      image: "registry.example/runtime:9",
      namespace: "fns",
      trust: "untrusted",
      functions: [edgeFunction("only", "low")].map((manifest) => ({ manifest, bundle: fakeBundle("only") })),
    });
    const l2 = renderFlux(other, { ...FLUX, site: "edge-2", namespace: "fns", branch: "prod", interval: "5m" });
    const infra = (l: FluxLayout) => l.files.filter((f) => f.path.startsWith("infrastructure/")).map((f) => [f.path, fileText(f)]);
    expect(infra(l2)).toEqual(infra(layout));
    expect(infra(layout)).toHaveLength(3);
  });

  it("starts every file with the mark that tells edgefn's files from others", () => {
    for (const f of layout.files) expect(fileText(f).startsWith(RENDERED_MARK), f.path).toBe(true);
  });
});

describe("validateFlux", () => {
  it("accepts the layout", () => {
    expect(formatProblems(validateFlux(layout))).toBe("");
  });

  it("runs the flux-cd models' validate()", () => {
    expect(
      broken(([source, infra]) => {
        delete source!.spec.interval;
        source!.spec.url = "ftp://git.example/fleet.git";
        infra!.spec.prune = "yes";
      }),
    ).toBe(
      [
        "GitRepository/edgefn: spec: must have required property interval",
        'GitRepository/edgefn: spec.url: must match pattern "^(http|https|ssh)://.*$"',
        "GitRepository/edgefn: spec.url: uses ftp:, but Flux clones over https://, http:// or ssh://",
        "Kustomization/edgefn-infrastructure: spec.prune: must be boolean",
      ].join("\n"),
    );
  });

  it("finds unknown fields the schemas allow", () => {
    expect(
      broken(([source, , apps]) => {
        source!.spec.ref.brnach = "main";
        apps!.spec.sourceRef.nmae = "edgefn";
        apps!.spec.targetNamespce = "edgefn";
      }),
    ).toBe(
      [
        'GitRepository/edgefn: spec.ref.brnach: unknown field "brnach"',
        'Kustomization/edgefn-apps: spec.sourceRef.nmae: unknown field "nmae"',
        'Kustomization/edgefn-apps: spec.targetNamespce: unknown field "targetNamespce"',
      ].join("\n"),
    );
  });

  it("checks names, namespaces and durations, which the models leave free", () => {
    expect(
      broken(([source, infra]) => {
        source!.metadata.name = "EdgeFn";
        source!.spec.interval = "1 minute";
        source!.spec.secretRef = { name: "Auth_Key" };
        infra!.metadata.namespace = "flux_system";
        infra!.spec.timeout = "5";
      }),
    ).toBe(
      [
        'GitRepository/EdgeFn: metadata.name: "EdgeFn" is not a DNS-1123 subdomain (lower-case letters, digits, \'-\' and \'.\', at most 253)',
        'GitRepository/EdgeFn: spec.interval: "1 minute" is not a duration such as 1m, 30s or 1h30m',
        'GitRepository/EdgeFn: spec.secretRef.name: "Auth_Key" is not a DNS-1123 subdomain (lower-case letters, digits, \'-\' and \'.\', at most 253)',
        'Kustomization/edgefn-infrastructure: metadata.namespace: "flux_system" is not a DNS-1123 label',
        'Kustomization/edgefn-infrastructure: spec.timeout: "5" is not a duration such as 1m, 30s or 1h30m',
        // The renamed GitRepository is no longer the one both Kustomizations name, and the
        // moved infrastructure Kustomization no longer the one the apps depend on.
        "Kustomization/edgefn-infrastructure: spec.sourceRef: names GitRepository edgefn, which the layout does not hold",
        "Kustomization/edgefn-apps: spec.sourceRef: names GitRepository edgefn, which the layout does not hold",
        "Kustomization/edgefn-apps: spec.dependsOn[0].name: names Kustomization edgefn-infrastructure, which the layout does not hold",
      ].join("\n"),
    );
  });

  it("checks that sources, dependencies and paths resolve in the layout", () => {
    expect(
      broken(([, , apps]) => {
        apps!.spec.dependsOn = [{ name: "edgefn-infra" }];
        apps!.spec.path = "./apps/edge-2";
        apps!.spec.sourceRef.namespace = "other";
      }),
    ).toBe(
      [
        "Kustomization/edgefn-apps: spec.sourceRef: names GitRepository edgefn, which the layout does not hold",
        "Kustomization/edgefn-apps: spec.dependsOn[0].name: names Kustomization edgefn-infra, which the layout does not hold",
        'Kustomization/edgefn-apps: spec.path: "./apps/edge-2" is not a folder of the layout with a kustomization.yaml (./infrastructure/edgefn, ./apps/edge-1)',
      ].join("\n"),
    );
  });

  it("refuses kinds it has no schema for", () => {
    expect(broken((objects) => objects.push({ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease", metadata: { name: "x", namespace: "flux-system" } }))).toBe(
      "HelmRelease/x: kind: no schema for kind HelmRelease: the Flux layout holds GitRepository and Kustomization objects",
    );
  });
});

describe("repoUrlProblem", () => {
  it.each([
    ["https://git.example/fleet.git", undefined],
    ["http://git.internal:3000/org/fleet", undefined],
    ["ssh://git@git.example/org/fleet.git", undefined],
    ["ssh://git@git.example:2222/org/fleet.git", undefined],
    ["git@github.com:org/fleet.git", "is an scp-style address, which Flux cannot clone: write it as ssh://git@github.com/org/fleet.git"],
    ["github.com/org/fleet", "is not a URL: use https://host/org/repo.git or ssh://git@host/org/repo.git"],
    ["file:///srv/fleet.git", "uses file:, but Flux clones over https://, http:// or ssh://"],
    ["https://ghp_secret@github.com/org/fleet.git", "carries credentials, which would be committed to git: put them in a Secret in flux-system and pass --secret-ref <name>"],
    ["ssh://git:hunter2@git.example/fleet.git", "carries credentials, which would be committed to git: put them in a Secret in flux-system and pass --secret-ref <name>"],
  ])("%s", (url, problem) => {
    expect(repoUrlProblem(url)).toBe(problem);
  });
});

describe("branchNameProblem", () => {
  it.each([
    ["main", undefined],
    ["release/v1.2", undefined],
    ["feature_x-1", undefined],
    ["", "is empty"],
    ["refs/heads/main", "is a ref: give the branch's short name (main, not refs/heads/main)"],
    ["-main", "cannot start with '-'"],
    ["a b", "cannot contain spaces, control characters or any of ~ ^ : ? * [ \\"],
    ["a~1", "cannot contain spaces, control characters or any of ~ ^ : ? * [ \\"],
    ["a..b", "cannot contain '..'"],
    ["a//b", "cannot start or end with '/' or contain '//'"],
    ["main/", "cannot start or end with '/' or contain '//'"],
    ["main.", "cannot end with '.'"],
    ["x/.hidden", "cannot have a part that starts with '.' or ends with '.lock'"],
    ["main.lock", "cannot have a part that starts with '.' or ends with '.lock'"],
    ["a@{1}", "cannot be '@' or contain '@{'"],
  ])("%j", (name, problem) => {
    expect(branchNameProblem(name)).toBe(problem);
  });
});
