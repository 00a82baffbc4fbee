/**
 * Checks a rendered set against the real API schemas, without a cluster: each object through
 * its kubernetes-models class's validate() (the OpenAPI schemas of the API server), plus what
 * those schemas miss: unknown fields (known-fields.ts), DNS-1123 names and label syntax,
 * Deployment selectors that match their pod template, PriorityClass values and names, and the
 * QoS class of every runtime pool against its tier's row in DESIGN.md's table. EdgeFunction
 * objects are checked against the CRD's openAPIV3Schema (ajv) and EdgeFunctionSchema (zod).
 * Each problem names the object (`Kind/name`) and the field path.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { PriorityClass } from "kubernetes-models/scheduling.k8s.io/v1/PriorityClass";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { API_VERSION, EdgeFunctionSchema, KIND, PRIORITIES, type Priority } from "../../runtime/manifest.ts";
import { crdOpenApiSchema } from "../../runtime/manifest-schema.ts";
import { CONFIGMAP_MAX_BYTES } from "./edge-functions.ts";
import { unknownFields } from "./known-fields.ts";
import { LABEL, type KubeObject } from "./labels.ts";
import { MAX_USER_PRIORITY, TIERS } from "./priority-classes.ts";
import { qosClass } from "./qos.ts";

export interface Problem {
  /** `Deployment/edgefn-runtime-high` */
  object: string;
  /** `spec.template.spec.containers[0].resources`; empty for the whole object. */
  path: string;
  message: string;
}

export interface ModelClass {
  new (data: never): { validate(): void };
}

/** kind -> its model class and its declaration path inside kubernetes-models. */
const MODELS: Record<string, { apiVersion: string; model: ModelClass; file: string }> = {
  CustomResourceDefinition: { apiVersion: "apiextensions.k8s.io/v1", model: CustomResourceDefinition, file: "apiextensions.k8s.io/v1/CustomResourceDefinition" },
  PriorityClass: { apiVersion: "scheduling.k8s.io/v1", model: PriorityClass, file: "scheduling.k8s.io/v1/PriorityClass" },
  Namespace: { apiVersion: "v1", model: Namespace, file: "v1/Namespace" },
  Deployment: { apiVersion: "apps/v1", model: Deployment, file: "apps/v1/Deployment" },
  Service: { apiVersion: "v1", model: Service, file: "v1/Service" },
  ConfigMap: { apiVersion: "v1", model: ConfigMap, file: "v1/ConfigMap" },
  NetworkPolicy: { apiVersion: "networking.k8s.io/v1", model: NetworkPolicy, file: "networking.k8s.io/v1/NetworkPolicy" },
  PodDisruptionBudget: { apiVersion: "policy/v1", model: PodDisruptionBudget, file: "policy/v1/PodDisruptionBudget" },
  ServiceAccount: { apiVersion: "v1", model: ServiceAccount, file: "v1/ServiceAccount" },
  Role: { apiVersion: "rbac.authorization.k8s.io/v1", model: Role, file: "rbac.authorization.k8s.io/v1/Role" },
  RoleBinding: { apiVersion: "rbac.authorization.k8s.io/v1", model: RoleBinding, file: "rbac.authorization.k8s.io/v1/RoleBinding" },
};

export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

let crdValidator: ValidateFunction | undefined;
function edgeFunctionValidator(): ValidateFunction {
  if (crdValidator) return crdValidator;
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addKeyword("x-kubernetes-preserve-unknown-fields");
  crdValidator = ajv.compile(crdOpenApiSchema());
  return crdValidator;
}

/** `/spec/a/0/b` -> `spec.a[0].b` */
function dotted(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .reduce((s, k) => (/^\d+$/.test(k) ? `${s}[${k}]` : s === "" ? k : `${s}.${k}`), "");
}

export function objectRef(obj: { kind?: unknown; metadata?: { name?: unknown } }): string {
  return `${String(obj.kind)}/${String(obj.metadata?.name)}`;
}

/** Every problem in the set; empty when it is fit to apply. */
export function validateObjects(objects: KubeObject[]): Problem[] {
  const problems: Problem[] = [];
  for (const obj of objects) {
    const add = (path: string, message: string) => problems.push({ object: objectRef(obj), path, message });
    checkSchema(obj, add);
    checkNames(obj, add);
    if (obj.kind === "Deployment") checkDeployment(obj, add);
    if (obj.kind === "PriorityClass") checkPriorityClass(obj, add);
    if (obj.kind === "ConfigMap") checkConfigMapSize(obj, add);
  }
  return problems;
}

/** The problems as lines: `Deployment/edgefn-runtime-high: spec.replicas: must be ...`. */
export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => `${p.object}: ${p.path === "" ? "" : `${p.path}: `}${p.message}`).join("\n");
}

export type Add = (path: string, message: string) => void;

function checkSchema(obj: KubeObject, add: Add): void {
  if (obj.kind === KIND) {
    if (obj.apiVersion !== API_VERSION) add("apiVersion", `must be ${API_VERSION}`);
    const validate = edgeFunctionValidator();
    if (!validate(obj)) for (const e of validate.errors ?? []) add(dotted(e.instancePath), `${e.message ?? "is invalid"} (CRD schema)`);
    // The CRD schema cannot refuse unknown fields (structural schemas prune them); zod can.
    const { metadata: _metadata, ...rest } = obj;
    const parsed = EdgeFunctionSchema.safeParse({ ...rest, metadata: { name: obj.metadata.name } });
    if (!parsed.success) for (const i of parsed.error.issues) add(i.path.map(String).join("."), i.message);
    return;
  }
  const entry = MODELS[obj.kind];
  if (!entry) {
    add("kind", `no schema for kind ${obj.kind}: edgefn renders ${Object.keys(MODELS).join(", ")} and ${KIND}`);
    return;
  }
  if (obj.apiVersion !== entry.apiVersion) add("apiVersion", `must be ${entry.apiVersion} for ${obj.kind}`);
  modelProblems(obj, entry.model, entry.file, add);
}

/**
 * What the model's validate() (the API's OpenAPI schema) refuses, and the fields it lets
 * through that the API does not know (`file`: the model's declaration, as known-fields.ts takes it).
 */
export function modelProblems(obj: KubeObject, model: ModelClass, file: string, add: Add): void {
  try {
    new model(obj as never).validate();
  } catch (err) {
    const errors = (err as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (!Array.isArray(errors)) throw err;
    for (const e of errors) add(dotted(e.instancePath), e.message ?? "is invalid");
  }
  for (const path of unknownFields(obj, file)) add(path, `unknown field "${path.split(/[.[]/).at(-1)}"`);
}

function checkLabels(labels: unknown, at: string, add: Add): void {
  if (labels === undefined || labels === null || typeof labels !== "object") return;
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf("/");
    const [prefix, name] = slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
    if (name.length > 63 || !LABEL_NAME.test(name) || (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))) {
      add(`${at}.${key}`, "is not a valid label key: [prefix/]name, name at most 63 characters of [A-Za-z0-9-_.]");
    }
    if (typeof value !== "string" || value.length > 63 || !LABEL_VALUE.test(value)) {
      add(`${at}.${key}`, `label value ${JSON.stringify(value)} must be at most 63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit`);
    }
  }
}

function checkNames(obj: KubeObject, add: Add): void {
  const name = obj.metadata?.name;
  if (typeof name !== "string" || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    add("metadata.name", `${JSON.stringify(name)} is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253)`);
  } else if ((obj.kind === "Service" || obj.kind === "Namespace") && (name.length > 63 || !DNS_LABEL_1035.test(name))) {
    add("metadata.name", `${JSON.stringify(name)}: a ${obj.kind} name must be a DNS-1035 label (a letter first, at most 63)`);
  } else if (obj.kind === "Deployment" && name.length > 63) {
    add("metadata.name", "a Deployment name longer than 63 characters cannot label its pods");
  }
  checkLabels(obj.metadata?.labels, "metadata.labels", add);
  const template = (obj.spec as { template?: { metadata?: { labels?: unknown } } } | undefined)?.template;
  if (obj.kind === "Deployment") checkLabels(template?.metadata?.labels, "spec.template.metadata.labels", add);
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec?: Parameters<typeof qosClass>[0] & { priorityClassName?: string };
}

function checkDeployment(obj: KubeObject, add: Add): void {
  const spec = obj.spec as { selector?: { matchLabels?: Record<string, string> }; template?: PodTemplate } | undefined;
  const selector = spec?.selector?.matchLabels ?? {};
  const labels = spec?.template?.metadata?.labels ?? {};
  if (Object.keys(selector).length === 0) add("spec.selector.matchLabels", "is empty: the Deployment would select every pod");
  for (const [key, value] of Object.entries(selector)) {
    if (labels[key] !== value) {
      add(`spec.selector.matchLabels.${key}`, `selects ${key}=${value}, but the pod template has ${labels[key] === undefined ? "no such label" : `${key}=${labels[key]}`}`);
    }
  }
  // Runtime pools carry their tier; their QoS class must be the tier's (DESIGN.md, "Priorities").
  const priority = labels[LABEL.priority];
  if (priority === undefined || spec?.template?.spec === undefined) return;
  if (!(PRIORITIES as readonly string[]).includes(priority)) {
    add(`spec.template.metadata.labels.${LABEL.priority}`, `"${priority}" is not a priority tier (${PRIORITIES.join(", ")})`);
    return;
  }
  const tier = TIERS[priority as Priority];
  const qos = qosClass(spec.template.spec);
  if (qos !== tier.qos) {
    add("spec.template.spec.containers[*].resources", `QoS class is ${qos}, but the ${priority} tier needs ${tier.qos}`);
  }
  if (spec.template.spec.priorityClassName !== tier.priorityClassName) {
    add("spec.template.spec.priorityClassName", `is ${JSON.stringify(spec.template.spec.priorityClassName)}, but the ${priority} tier needs ${tier.priorityClassName}`);
  }
}

function checkPriorityClass(obj: KubeObject, add: Add): void {
  if (typeof obj.value === "number" && obj.value > MAX_USER_PRIORITY) add("value", `${obj.value} is above ${MAX_USER_PRIORITY}, which only system- classes may use`);
  if (obj.metadata.name.startsWith("system-")) add("metadata.name", `the "system-" prefix is reserved for Kubernetes' own classes`);
}

function checkConfigMapSize(obj: KubeObject, add: Add): void {
  const data = (obj.data ?? {}) as Record<string, string>;
  const bytes = Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (bytes > CONFIGMAP_MAX_BYTES) add("data", `holds ${bytes} bytes; a ConfigMap holds at most ${CONFIGMAP_MAX_BYTES} (1 MiB): make the bundle smaller`);
}
