/**
 * Unknown-field detection from kubernetes-models' declarations. No cluster runs here: this is
 * a check against the real API types only.
 */
import { describe, expect, it } from "vitest";
import { unknownFields } from "./known-fields.ts";

describe("unknownFields", () => {
  it("finds misspelt keys at the top, in spec, in containers and deeper", () => {
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x", labelz: {}, labels: { any: "key" } },
      spec: {
        replicas: 1,
        replicaz: 2,
        selector: { matchLabels: { a: "b" } },
        template: {
          metadata: { labels: { a: "b" } },
          spec: {
            nodeSelector: { "edgefn.dev/gpu": "true" },
            containers: [{ name: "c", image: "i", imagee: "i", securityContext: { capabilities: { drop: ["ALL"], dropp: [] } } }],
          },
        },
      },
      statuz: {},
    };
    expect(unknownFields(deployment, "apps/v1/Deployment")).toEqual([
      "metadata.labelz",
      "spec.replicaz",
      "spec.template.spec.containers[0].imagee",
      "spec.template.spec.containers[0].securityContext.capabilities.dropp",
      "statuz",
    ]);
  });

  it("knows every field of a correct object, maps (labels, nodeSelector) being free", () => {
    const service = { apiVersion: "v1", kind: "Service", metadata: { name: "s", labels: { x: "y" } }, spec: { type: "ClusterIP", selector: { a: "b" }, ports: [{ port: 80, targetPort: "http" }] } };
    expect(unknownFields(service, "v1/Service")).toEqual([]);
  });

  it("follows types that refer to themselves (a CRD's JSONSchemaProps)", () => {
    const crd = { spec: { versions: [{ schema: { openAPIV3Schema: { type: "object", properties: { a: { type: "string", patern: "x" } } } } }] } };
    expect(unknownFields(crd, "apiextensions.k8s.io/v1/CustomResourceDefinition")).toEqual([
      "spec.versions[0].schema.openAPIV3Schema.properties.a.patern",
    ]);
  });
});
