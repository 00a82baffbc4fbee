import { describe, expect, it } from "vitest";
import { EdgeFunctionSchema, EgressEntrySchema } from "./manifest.ts";

/** A valid manifest with `patch` merged over its top level and `spec` merged over its spec. */
function manifest(spec: Record<string, unknown> = {}, patch: Record<string, unknown> = {}): unknown {
  return { apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name: "hello" }, spec, ...patch };
}

const secret = (name: string, secretRef: Record<string, unknown> = { name: "hello-secrets", key: "api-key" }) => ({
  name,
  secretRef,
});

const PRIORITY_LIST = /"critical"\|"high"\|"normal"\|"low"\|"best-effort"/;
const DNS_LABEL = /DNS-1123 label: lower-case letters, digits and '-'/;
const VARIABLE_NAME = /variable name: letters, digits and '_', not starting with a digit/;
const HOST_PORT = /must be host:port with a port of 1-65535, e.g. api.example.com:443/;

describe("EdgeFunctionSchema", () => {
  // [case, input, the one issue's path, what its message must say]
  it.each<[string, unknown, string, RegExp]>([
    ["cpuMs below 1", manifest({ limits: { cpuMs: 0 } }), "spec.limits.cpuMs", />=1/],
    ["cpuMs above 30000", manifest({ limits: { cpuMs: 30_001 } }), "spec.limits.cpuMs", /<=30000/],
    ["cpuMs not an integer", manifest({ limits: { cpuMs: 1.5 } }), "spec.limits.cpuMs", /expected int/],
    ["cpuMs a string", manifest({ limits: { cpuMs: "50" } }), "spec.limits.cpuMs", /expected number, received string/],
    ["memoryMb too small", manifest({ limits: { memoryMb: 4 } }), "spec.limits.memoryMb", />=8/],
    ["timeoutMs above 15 minutes", manifest({ limits: { timeoutMs: 900_001 } }), "spec.limits.timeoutMs", /<=900000/],
    ["requestBytes negative", manifest({ limits: { requestBytes: -1 } }), "spec.limits.requestBytes", />=0/],
    ["unknown limit", manifest({ limits: { cpu: 50 } }), "spec.limits", /unknown field "cpu"; allowed: cpuMs, memoryMb, timeoutMs/],
    ["unknown spec field", manifest({ limitz: {} }), "spec", /unknown field "limitz"; allowed: source, priority, limits, env/],
    ["unknown top-level field", manifest({}, { status: {} }), "", /unknown field "status"; allowed: apiVersion, kind, metadata, spec/],
    ["name not a DNS label", manifest({}, { metadata: { name: "Hello_World" } }), "metadata.name", DNS_LABEL],
    ["name over 63 characters", manifest({}, { metadata: { name: "a".repeat(64) } }), "metadata.name", /at most 63 characters/],
    ["name missing", manifest({}, { metadata: {} }), "metadata.name", /expected string, received undefined/],
    ["metadata missing", manifest({}, { metadata: undefined }), "metadata", /expected object/],
    ["wrong apiVersion", manifest({}, { apiVersion: "edgefn.dev/v1" }), "apiVersion", /must be edgefn.dev\/v1alpha1/],
    ["wrong kind", manifest({}, { kind: "Function" }), "kind", /must be EdgeFunction/],
    ["not an object", ["hello"], "", /expected object, received array/],
    ["source empty", manifest({ source: "" }), "spec.source", />=1 characters/],
    ["priority not in the list", manifest({ priority: "urgent" }), "spec.priority", PRIORITY_LIST],
    ["egress without a port", manifest({ egress: ["api.example.com"] }), "spec.egress.0", HOST_PORT],
    ["egress port above 65535", manifest({ egress: ["a.example.com:443", "b.example.com:65536"] }), "spec.egress.1", HOST_PORT],
    ["egress port 0", manifest({ egress: ["api.example.com:0"] }), "spec.egress.0", HOST_PORT],
    ["egress as a URL", manifest({ egress: ["https://api.example.com:443"] }), "spec.egress.0", HOST_PORT],
    ["egress wildcard inside the host", manifest({ egress: ["api.*.com:443"] }), "spec.egress.0", HOST_PORT],
    ["env value not a string", manifest({ env: { PORT: 8080 } }), "spec.env.PORT", /expected string, received number/],
    ["env name starts with a digit", manifest({ env: { "1PORT": "8080" } }), "spec.env.1PORT", VARIABLE_NAME],
    ["secret name not a variable name", manifest({ secrets: [secret("API-KEY")] }), "spec.secrets.0.name", VARIABLE_NAME],
    ["secret key empty", manifest({ secrets: [secret("API_KEY", { name: "s", key: "" })] }), "spec.secrets.0.secretRef.key", /non-empty key/],
    ["secret name empty", manifest({ secrets: [secret("API_KEY", { name: "", key: "k" })] }), "spec.secrets.0.secretRef.name", /non-empty secret name/],
    ["secretRef missing", manifest({ secrets: [{ name: "API_KEY" }] }), "spec.secrets.0.secretRef", /expected object/],
    ["services target not a DNS label", manifest({ services: { INVENTORY: "Inventory" } }), "spec.services.INVENTORY", DNS_LABEL],
    ["services binding not a variable name", manifest({ services: { "my-inventory": "inventory" } }), "spec.services.my-inventory", VARIABLE_NAME],
    [
      "binding name in env and secrets",
      manifest({ env: { API_KEY: "x" }, secrets: [secret("API_KEY")] }),
      "spec.secrets.0.name",
      /binding name API_KEY is already used by env.API_KEY; names in env, secrets and services must be unique/,
    ],
    [
      "binding name in secrets and services",
      manifest({ secrets: [secret("INVENTORY")], services: { INVENTORY: "inventory" } }),
      "spec.services.INVENTORY",
      /already used by secrets.0.name/,
    ],
    ["placement.trust not in the list", manifest({ placement: { trust: "yes" } }), "spec.placement.trust", /"any"\|"trusted"/],
    ["placement.sites a string", manifest({ placement: { sites: "edge-*" } }), "spec.placement.sites", /expected array/],
    ["placement.requires not a label", manifest({ placement: { requires: ["GPU"] } }), "spec.placement.requires.0", DNS_LABEL],
    ["access.callers not a label", manifest({ access: { callers: ["Checkout"] } }), "spec.access.callers.0", DNS_LABEL],
    ["access.public a string", manifest({ access: { public: "yes" } }), "spec.access.public", /expected boolean/],
  ])("rejects %s", (_case, input, path, message) => {
    const result = EdgeFunctionSchema.safeParse(input);
    expect(result.success).toBe(false);
    const issues = result.error!.issues;
    expect(issues.map((issue) => issue.path.join("."))).toEqual([path]);
    expect(issues[0]!.message).toMatch(message);
  });

  it("fills every default into a minimal manifest", () => {
    const minimal = { apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name: "hello" } };
    expect(EdgeFunctionSchema.parse(minimal)).toMatchInlineSnapshot(`
      {
        "apiVersion": "edgefn.dev/v1alpha1",
        "kind": "EdgeFunction",
        "metadata": {
          "name": "hello",
        },
        "spec": {
          "access": {
            "public": true,
          },
          "egress": [],
          "env": {},
          "limits": {
            "concurrency": 64,
            "cpuMs": 50,
            "memoryMb": 128,
            "requestBytes": 1048576,
            "timeoutMs": 30000,
          },
          "placement": {
            "requires": [],
            "sites": [
              "*",
            ],
            "trust": "any",
          },
          "priority": "normal",
          "secrets": [],
          "services": {},
          "source": "./index.ts",
        },
      }
    `);
    expect(EdgeFunctionSchema.parse({ ...minimal, spec: {} })).toEqual(EdgeFunctionSchema.parse(minimal));
  });

  it("accepts the full example of DESIGN.md, lower-casing egress hosts", () => {
    const parsed = EdgeFunctionSchema.parse(
      manifest({
        source: "./index.ts",
        priority: "high",
        limits: { cpuMs: 50, memoryMb: 64, timeoutMs: 10000, concurrency: 64, requestBytes: 1048576 },
        env: { GREETING: "hello" },
        secrets: [{ name: "API_KEY", secretRef: { name: "hello-secrets", key: "api-key" } }],
        services: { INVENTORY: "inventory" },
        egress: ["API.Example.com:443", "*.example.org:8443", "127.0.0.1:8787"],
        placement: { sites: ["edge-*"], requires: ["gpu"], trust: "trusted" },
        access: { public: true, callers: ["checkout"] },
      }),
    );
    expect(parsed.spec.egress).toEqual(["api.example.com:443", "*.example.org:8443", "127.0.0.1:8787"]);
    expect(parsed.spec.limits.memoryMb).toBe(64);
    expect(parsed.spec.access.callers).toEqual(["checkout"]);
  });

  it("gives each parse its own default objects", () => {
    const minimal = { apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name: "hello" } };
    const first = EdgeFunctionSchema.parse(minimal);
    first.spec.limits.cpuMs = 1;
    first.spec.placement.sites.push("edge-*");
    const second = EdgeFunctionSchema.parse(minimal);
    expect(second.spec.limits.cpuMs).toBe(50);
    expect(second.spec.placement.sites).toEqual(["*"]);
  });

  it("keeps a partial limits object's other defaults", () => {
    expect(EdgeFunctionSchema.parse(manifest({ limits: { cpuMs: 10 } })).spec.limits).toEqual({
      cpuMs: 10,
      memoryMb: 128,
      timeoutMs: 30000,
      concurrency: 64,
      requestBytes: 1048576,
    });
  });
});

describe("EgressEntrySchema", () => {
  // The port range lives in the regex (so the JSON Schema and the CRD check it too); this is
  // the rule it spells out, checked on every port of one to five digits.
  it("accepts exactly the ports 1-65535, leading zeros included", () => {
    const wrong: string[] = [];
    for (let digits = 1; digits <= 5; digits++) {
      for (let n = 0; n < 10 ** digits; n++) {
        const port = String(n).padStart(digits, "0");
        if (EgressEntrySchema.safeParse(`example.com:${port}`).success !== (n >= 1 && n <= 65535)) wrong.push(port);
      }
    }
    expect(wrong).toEqual([]);
    expect(EgressEntrySchema.safeParse("example.com:000001").success).toBe(false);
  });
});
