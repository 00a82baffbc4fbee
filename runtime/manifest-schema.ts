/**
 * EdgeFunctionSchema as JSON, for tools that do not run zod: a JSON Schema (draft 2020-12) for
 * editors, shipped as `edgefn/edgefunction.schema.json`, and the EdgeFunction
 * CustomResourceDefinition for Kubernetes. Both are generated, so zod stays the one source.
 *
 *   node runtime/manifest-schema.ts --write   regenerate runtime/edgefunction.schema.json (npm run schema)
 *   node runtime/manifest-schema.ts --crd     print the CRD as JSON (kubectl apply -f - takes JSON)
 *
 * Leaf module: imports zod and ./manifest.ts only.
 */
import { z } from "zod";
import { API_VERSION, EdgeFunctionSchema, KIND } from "./manifest.ts";

type JsonSchema = z.core.JSONSchema.JSONSchema;

const [GROUP, VERSION] = API_VERSION.split("/") as [string, string];
const PLURAL = `${KIND.toLowerCase()}s`;
const DESCRIPTION =
  "An edgefn function: its code, priority, limits, bindings and where it may run. " +
  "One YAML document per function, valid for edgefn deploy, GitOps and kubectl apply.";

/** The manifest as users write it: defaults documented, no field required that has one. */
export function functionJsonSchema(): JsonSchema {
  const { $schema, ...schema } = z.toJSONSchema(EdgeFunctionSchema, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "throw",
  });
  return { $schema, title: KIND, description: DESCRIPTION, ...schema };
}

/** The text of runtime/edgefunction.schema.json. */
export function functionJsonSchemaText(): string {
  return `${JSON.stringify(functionJsonSchema(), null, 2)}\n`;
}

/** JSON without null: a structural schema has `nullable` instead, and this schema has no null values. */
type JsonValue = string | number | boolean | JsonValue[] | { [key: string]: JsonValue };

/** The subset of OpenAPI v3 a Kubernetes structural schema allows, as this file emits it. */
export interface OpenApiSchema {
  type: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  default?: JsonValue;
  enum?: JsonValue[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: OpenApiSchema;
  properties?: Record<string, OpenApiSchema>;
  required?: string[];
  additionalProperties?: OpenApiSchema;
  "x-kubernetes-preserve-unknown-fields"?: true;
}

/** Keywords copied as they are: same meaning in JSON Schema 2020-12 and in a structural schema. */
const COPIED = new Set(["description", "default", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "required"]);

/**
 * One JSON Schema node as a structural schema node: one `type` on every node; no `$ref`,
 * `anyOf` or `const`; `additionalProperties` only for maps. Anything else throws, so a zod
 * change the API server would refuse fails here (and in the tests) instead of at `kubectl apply`.
 */
function toStructural(node: JsonSchema, at: string): OpenApiSchema {
  // additionalProperties: false is forbidden beside properties; the API server drops unknown
  // fields itself, and kubectl's default strict field validation rejects them.
  // propertyNames (env and services names) has no structural form: zod checks those names
  // when a runtime loads the object.
  const { type, const: constant, items, properties, additionalProperties, propertyNames: _names, ...rest } = node;
  if (typeof type !== "string" || type === "null") {
    throw new Error(`${at}: a structural schema needs one type on every node, got ${JSON.stringify(type)}`);
  }
  const out: OpenApiSchema = { type };
  // description first: it reads better in `kubectl get crd -o yaml`.
  if (typeof rest.description === "string") out.description = rest.description;
  for (const [key, value] of Object.entries(rest)) {
    if (!COPIED.has(key)) throw new Error(`${at}: "${key}" has no place in a Kubernetes structural schema`);
    (out as unknown as Record<string, unknown>)[key] = value;
  }
  if (constant !== undefined) out.enum = [constant as JsonValue];
  if (items !== undefined) {
    if (typeof items !== "object" || Array.isArray(items)) throw new Error(`${at}.items: must be one schema`);
    out.items = toStructural(items, `${at}.items`);
  }
  if (properties !== undefined) {
    out.properties = Object.fromEntries(
      Object.entries(properties).map(([key, value]) => {
        if (typeof value !== "object") throw new Error(`${at}.${key}: must be a schema`);
        return [key, toStructural(value, `${at}.${key}`)];
      }),
    );
  }
  if (typeof additionalProperties === "object") {
    if (properties !== undefined) throw new Error(`${at}: a structural schema is a struct or a map, not both`);
    out.additionalProperties = toStructural(additionalProperties, `${at}.additionalProperties`);
  }
  return out;
}

/** `spec.versions[0].schema.openAPIV3Schema` of the CRD: the whole EdgeFunction object. */
export function crdOpenApiSchema(): OpenApiSchema {
  const json = functionJsonSchema();
  const metadata = json.properties?.metadata;
  const name = typeof metadata === "object" ? metadata.properties?.name : undefined;
  const spec = json.properties?.spec;
  if (typeof name !== "object" || typeof spec !== "object") throw new Error("EdgeFunctionSchema has no metadata.name or spec");
  return {
    type: "object",
    description: DESCRIPTION,
    properties: {
      apiVersion: { type: "string", description: API_VERSION },
      kind: { type: "string", description: KIND },
      // Structural schemas may restrict metadata.name (and generateName) and nothing else there.
      metadata: { type: "object", properties: { name: toStructural(name, "metadata.name") } },
      spec: toStructural(spec, "spec"),
      status: {
        type: "object",
        description: "Written by edgefn runtimes through the status subresource; not part of the manifest.",
        "x-kubernetes-preserve-unknown-fields": true,
      },
    },
  };
}

/** The `apiextensions.k8s.io/v1` CustomResourceDefinition of EdgeFunction (cluster-scoped). */
export function edgeFunctionCrd() {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: KIND.toLowerCase(),
        shortNames: ["efn"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: crdOpenApiSchema() },
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: "Priority", type: "string", jsonPath: ".spec.priority", description: "Priority tier" },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
        },
      ],
    },
  };
}

if (import.meta.main) {
  const { writeFileSync } = await import("node:fs");
  const { fileURLToPath } = await import("node:url");
  if (process.argv.includes("--write")) {
    const file = fileURLToPath(new URL("./edgefunction.schema.json", import.meta.url));
    writeFileSync(file, functionJsonSchemaText());
    process.stdout.write(`wrote ${file}\n`);
  } else if (process.argv.includes("--crd")) {
    process.stdout.write(`${JSON.stringify(edgeFunctionCrd(), null, 2)}\n`);
  } else {
    process.stdout.write(functionJsonSchemaText());
  }
}
