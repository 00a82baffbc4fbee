import { readdirSync, readFileSync } from "node:fs";
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { EdgeFunctionSchema } from "./manifest.ts";
import { crdOpenApiSchema, edgeFunctionCrd, functionJsonSchema, functionJsonSchemaText } from "./manifest-schema.ts";

const SCHEMA_FILE = new URL("./edgefunction.schema.json", import.meta.url);
const FUNCTIONS = new URL("../functions/", import.meta.url);

const ajv = new Ajv2020({ strict: true, allErrors: true });
ajv.addKeyword("x-kubernetes-preserve-unknown-fields");
const validateJson = ajv.compile(functionJsonSchema());
const validateCrd = ajv.compile(crdOpenApiSchema());

/** The paths ajv complains about, in zod's dotted form (`spec.limits.cpuMs`). */
function ajvPaths(errors: ErrorObject[] | null | undefined): string[] {
  return [...new Set((errors ?? []).map((e) => e.instancePath.slice(1).replaceAll("/", ".")))];
}

function manifest(spec: Record<string, unknown>): unknown {
  return { apiVersion: "edgefn.dev/v1alpha1", kind: "EdgeFunction", metadata: { name: "hello" }, spec };
}

/** Every functions/<name>/edgefn.yaml, parsed. */
const EXAMPLES = readdirSync(FUNCTIONS, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .flatMap((entry) => {
    try {
      return [[entry.name, parse(readFileSync(new URL(`${entry.name}/edgefn.yaml`, FUNCTIONS), "utf8"))] as const];
    } catch {
      return [];
    }
  });

/**
 * The API server's structural-schema rules (apiextensions-apiserver validation.go), as far as
 * this schema can break them: a type on every node, only JSONSchemaProps keywords and none of
 * the forbidden ones, and additionalProperties only for maps.
 */
function structuralProblems(node: Record<string, unknown>, at: string): string[] {
  const KNOWN = new Set([
    "type", "description", "title", "default", "enum", "format", "pattern", "minLength", "maxLength",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
    "minProperties", "maxProperties", "required", "items", "properties", "additionalProperties",
    "nullable", "example", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations",
  ]);
  const problems: string[] = [];
  for (const key of Object.keys(node)) if (!KNOWN.has(key)) problems.push(`${at}: ${key}`);
  if (node["x-kubernetes-preserve-unknown-fields"] !== true && typeof node.type !== "string") problems.push(`${at}: no type`);
  if (node.additionalProperties !== undefined) {
    if (typeof node.additionalProperties !== "object") problems.push(`${at}: additionalProperties must be a schema`);
    if (node.properties !== undefined) problems.push(`${at}: additionalProperties beside properties`);
  }
  const children: [string, unknown][] = [
    ...Object.entries((node.properties ?? {}) as Record<string, unknown>).map(([k, v]): [string, unknown] => [`${at}.${k}`, v]),
    [`${at}[]`, node.items],
    [`${at}{}`, node.additionalProperties],
  ];
  for (const [path, child] of children) {
    if (child && typeof child === "object") problems.push(...structuralProblems(child as Record<string, unknown>, path));
  }
  return problems;
}

describe("functionJsonSchema", () => {
  it("matches runtime/edgefunction.schema.json, the copy shipped in the package", () => {
    const shipped = readFileSync(SCHEMA_FILE, "utf8");
    expect(shipped, "runtime/edgefunction.schema.json is stale: run `npm run schema` and commit it").toBe(
      functionJsonSchemaText(),
    );
  });

  it("describes the manifest as written: draft 2020-12, defaults, strict objects", () => {
    const schema = functionJsonSchema();
    expect(schema).toMatchObject({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      title: "EdgeFunction",
      required: ["apiVersion", "kind", "metadata"],
      additionalProperties: false,
      properties: {
        apiVersion: { const: "edgefn.dev/v1alpha1" },
        spec: {
          additionalProperties: false,
          properties: {
            priority: { default: "normal", enum: ["critical", "high", "normal", "low", "best-effort"] },
            limits: { additionalProperties: false, properties: { cpuMs: { type: "integer", default: 50, minimum: 1 } } },
            egress: { default: [], items: { type: "string" } },
            env: { propertyNames: { pattern: "^[A-Za-z_][A-Za-z0-9_]*$" } },
          },
        },
      },
    });
    expect(JSON.stringify(schema)).not.toContain("$ref");
  });
});

describe("edgeFunctionCrd", () => {
  it("is a valid apiextensions.k8s.io/v1 CustomResourceDefinition", () => {
    const crd = edgeFunctionCrd();
    expect(() => new CustomResourceDefinition(crd).validate()).not.toThrow();
    const { schema, ...version } = crd.spec.versions[0]!;
    expect({ ...crd, spec: { ...crd.spec, versions: [version] } }).toMatchInlineSnapshot(`
      {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
          "name": "edgefunctions.edgefn.dev",
        },
        "spec": {
          "group": "edgefn.dev",
          "names": {
            "kind": "EdgeFunction",
            "listKind": "EdgeFunctionList",
            "plural": "edgefunctions",
            "shortNames": [
              "efn",
            ],
            "singular": "edgefunction",
          },
          "scope": "Namespaced",
          "versions": [
            {
              "additionalPrinterColumns": [
                {
                  "description": "Priority tier",
                  "jsonPath": ".spec.priority",
                  "name": "Priority",
                  "type": "string",
                },
                {
                  "jsonPath": ".metadata.creationTimestamp",
                  "name": "Age",
                  "type": "date",
                },
              ],
              "name": "v1alpha1",
              "served": true,
              "storage": true,
              "subresources": {
                "status": {},
              },
            },
          ],
        },
      }
    `);
  });

  it("the model validation catches a broken CRD (so the test above means something)", () => {
    const crd = edgeFunctionCrd();
    const broken = { ...crd, spec: { ...crd.spec, names: { ...crd.spec.names, plural: 42 } } };
    expect(() => new CustomResourceDefinition(broken as unknown as ConstructorParameters<typeof CustomResourceDefinition>[0]).validate()).toThrow(/plural/);
  });

  it("has a structural openAPIV3Schema", () => {
    const schema = crdOpenApiSchema();
    expect(structuralProblems(schema as unknown as Record<string, unknown>, "openAPIV3Schema")).toEqual([]);
    // metadata: only name may be restricted; spec carries the defaults the API server fills in.
    expect(Object.keys(schema.properties!.metadata!.properties!)).toEqual(["name"]);
    expect(schema.properties!.spec!.properties!.limits!.properties!.cpuMs).toMatchObject({ type: "integer", default: 50 });
    // The checker finds what the API server would refuse.
    expect(structuralProblems({ type: "object", properties: { a: { $ref: "#/x" } }, additionalProperties: false }, "x")).toEqual([
      "x: additionalProperties must be a schema",
      "x: additionalProperties beside properties",
      "x.a: $ref",
      "x.a: no type",
    ]);
  });
});

describe("the three schemas agree", () => {
  it("has examples to check", () => {
    expect(EXAMPLES.map(([name]) => name)).toContain("hello");
  });

  it.each(EXAMPLES)("accepts functions/%s/edgefn.yaml in zod, the JSON Schema and the CRD", (_name, doc) => {
    expect(EdgeFunctionSchema.safeParse(doc).error?.issues ?? []).toEqual([]);
    expect(validateJson(doc), ajv.errorsText(validateJson.errors)).toBe(true);
    expect(validateCrd(doc), ajv.errorsText(validateCrd.errors)).toBe(true);
  });

  // [case, input, the path all three report]
  it.each<[string, unknown, string]>([
    ["cpuMs below 1", manifest({ limits: { cpuMs: 0 } }), "spec.limits.cpuMs"],
    ["memoryMb too small", manifest({ limits: { memoryMb: 4 } }), "spec.limits.memoryMb"],
    ["cpuMs not an integer", manifest({ limits: { cpuMs: 1.5 } }), "spec.limits.cpuMs"],
    ["name not a DNS label", { ...(manifest({}) as object), metadata: { name: "Hello" } }, "metadata.name"],
    ["priority not in the list", manifest({ priority: "urgent" }), "spec.priority"],
    ["egress without a port", manifest({ egress: ["api.example.com"] }), "spec.egress.0"],
    ["egress port above 65535", manifest({ egress: ["api.example.com:65536"] }), "spec.egress.0"],
    ["egress port 0", manifest({ egress: ["api.example.com:00000"] }), "spec.egress.0"],
    ["env value not a string", manifest({ env: { PORT: 8080 } }), "spec.env.PORT"],
    ["secret key empty", manifest({ secrets: [{ name: "K", secretRef: { name: "s", key: "" } }] }), "spec.secrets.0.secretRef.key"],
    ["services target not a DNS label", manifest({ services: { INVENTORY: "Inventory" } }), "spec.services.INVENTORY"],
    ["placement.trust not in the list", manifest({ placement: { trust: "yes" } }), "spec.placement.trust"],
    ["access.callers not a label", manifest({ access: { callers: ["Checkout"] } }), "spec.access.callers.0"],
  ])("rejects %s in zod, the JSON Schema and the CRD", (_case, input, path) => {
    expect(EdgeFunctionSchema.safeParse(input).error?.issues.map((i) => i.path.join("."))).toEqual([path]);
    expect(validateJson(input)).toBe(false);
    expect(ajvPaths(validateJson.errors)).toEqual([path]);
    expect(validateCrd(input)).toBe(false);
    expect(ajvPaths(validateCrd.errors)).toEqual([path]);
  });

  // What only zod checks, written down so a change in coverage shows up in review. A runtime
  // parses every EdgeFunction with zod before it loads it, so these still fail, only later.
  it.each<[string, unknown, { json: boolean; crd: boolean }]>([
    // A CRD cannot restrict map keys (no propertyNames in a structural schema).
    ["env name starts with a digit", manifest({ env: { "1PORT": "8080" } }), { json: false, crd: true }],
    // Unknown fields: the API server prunes them, and kubectl's strict field validation rejects them.
    ["unknown spec field", manifest({ limitz: {} }), { json: false, crd: true }],
    // Cross-field: would need CEL (x-kubernetes-validations), with bounded maps and lists.
    [
      "binding name in env and secrets",
      manifest({ env: { API_KEY: "x" }, secrets: [{ name: "API_KEY", secretRef: { name: "s", key: "k" } }] }),
      { json: true, crd: true },
    ],
  ])("zod rejects %s; the JSON Schema and the CRD may not", (_case, input, accepts) => {
    expect(EdgeFunctionSchema.safeParse(input).success).toBe(false);
    expect({ json: validateJson(input), crd: validateCrd(input) }).toEqual(accepts);
  });
});
