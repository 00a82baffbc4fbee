/**
 * The EdgeFunction manifest (DESIGN.md, "Function manifest") and the deployment payload that
 * `edgefn deploy` / `edgefn dev` send to a runtime. One zod schema is the single source of
 * truth: the cli parses `edgefn.yaml` with it, the runtime parses deploy requests with it.
 *
 * Leaf module: imports zod only.
 */
import { z } from "zod";

export const API_VERSION = "edgefn.dev/v1alpha1";
export const KIND = "EdgeFunction";

/** Priority tiers, most important first. */
export const PRIORITIES = ["critical", "high", "normal", "low", "best-effort"] as const;
export type Priority = (typeof PRIORITIES)[number];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `host:port`, host may start with `*.` to allow every subdomain. */
const EGRESS_ENTRY = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*:\d{1,5}$/;

export const FunctionNameSchema = z
  .string()
  .max(63, "must be at most 63 characters (a DNS-1123 label)")
  .regex(DNS_LABEL, "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit");

const EnvNameSchema = z
  .string()
  .regex(ENV_NAME, "must be a variable name: letters, digits and '_', not starting with a digit");

/** Resource limits; every field has a default so `limits` may be omitted. */
export const LimitsSchema = z
  .object({
    /** CPU time one request may use inside the isolate. */
    cpuMs: z.number().int().min(1).max(30_000).default(50),
    /** Heap limit of the function's isolate. */
    memoryMb: z.number().int().min(8).max(4096).default(128),
    /** Wall-clock time from request start to the end of the response. */
    timeoutMs: z.number().int().min(1).max(900_000).default(30_000),
    /** Requests in flight at once in one runtime; more get 503 + Retry-After. */
    concurrency: z.number().int().min(1).max(100_000).default(64),
    /** Largest request body accepted; larger gets 413. */
    requestBytes: z.number().int().min(0).max(1024 * 1024 * 1024).default(1024 * 1024),
  })
  .strict();
export type Limits = z.output<typeof LimitsSchema>;

export const SecretRefSchema = z
  .object({
    name: EnvNameSchema,
    secretRef: z.object({ name: FunctionNameSchema.or(z.string().min(1)), key: z.string().min(1) }).strict(),
  })
  .strict();

export const EgressEntrySchema = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(
    z
      .string()
      .regex(EGRESS_ENTRY, "must be host:port, e.g. api.example.com:443 or *.example.com:443")
      .refine((s) => Number(s.slice(s.lastIndexOf(":") + 1)) <= 65535, "port must be 1-65535")
      .refine((s) => Number(s.slice(s.lastIndexOf(":") + 1)) >= 1, "port must be 1-65535"),
  );

export const PlacementSchema = z
  .object({
    /** Site name globs (`edge-*`); default everywhere. */
    sites: z.array(z.string().min(1)).default(["*"]),
    /** Hardware capabilities a site must offer (e.g. gpu). */
    requires: z.array(FunctionNameSchema).default([]),
    /** `trusted`: never placed on untrusted sites. */
    trust: z.enum(["any", "trusted"]).default("any"),
  })
  .strict();

export const AccessSchema = z
  .object({
    /** Reachable from the HTTP ingress; false: only from other functions. */
    public: z.boolean().default(true),
    /** Functions allowed to call this one over the VAN; absent: anyone. */
    callers: z.array(FunctionNameSchema).optional(),
  })
  .strict();

export const FunctionSpecSchema = z
  .object({
    source: z.string().min(1).default("./index.ts"),
    priority: z.enum(PRIORITIES).default("normal"),
    limits: LimitsSchema.default(LimitsSchema.parse({})),
    env: z.record(EnvNameSchema, z.string()).default({}),
    secrets: z.array(SecretRefSchema).default([]),
    services: z.record(EnvNameSchema, FunctionNameSchema).default({}),
    egress: z.array(EgressEntrySchema).default([]),
    placement: PlacementSchema.default(PlacementSchema.parse({})),
    access: AccessSchema.default(AccessSchema.parse({})),
  })
  .strict()
  .superRefine((spec, ctx) => {
    // env, secrets and services all become properties of `env`: one name, one meaning.
    const seen = new Map<string, string>();
    const claim = (name: string, where: (string | number)[]) => {
      const first = seen.get(name);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: where,
          message: `binding name ${name} is already used by ${first}; names in env, secrets and services must be unique`,
        });
      } else {
        seen.set(name, where.join("."));
      }
    };
    for (const name of Object.keys(spec.env)) claim(name, ["env", name]);
    spec.secrets.forEach((s, i) => claim(s.name, ["secrets", i, "name"]));
    for (const name of Object.keys(spec.services)) claim(name, ["services", name]);
  });
export type FunctionSpec = z.output<typeof FunctionSpecSchema>;

export const MetadataSchema = z
  .object({
    name: FunctionNameSchema,
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const EdgeFunctionSchema = z
  .object({
    apiVersion: z.literal(API_VERSION, { error: `must be ${API_VERSION}` }),
    kind: z.literal(KIND, { error: `must be ${KIND}` }),
    metadata: MetadataSchema,
    spec: FunctionSpecSchema.default(FunctionSpecSchema.parse({})),
  })
  .strict();
export type EdgeFunction = z.output<typeof EdgeFunctionSchema>;
export type EdgeFunctionInput = z.input<typeof EdgeFunctionSchema>;

/** `sha256:<64 hex>` of the bundle's code (UTF-8 bytes). */
export const DigestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, "must be sha256:<64 lower-case hex digits>");

/** A built function: the bundle esbuild produced, with its source map and digest. */
export const BundleSchema = z
  .object({
    code: z.string().min(1),
    /** Source map JSON (esbuild's), used to map stack traces to the user's .ts lines. */
    sourceMap: z.string().optional(),
    digest: DigestSchema,
  })
  .strict();
export type Bundle = z.output<typeof BundleSchema>;

/** Body of `PUT /v1/functions/:name` on the control API. */
export const DeploymentSchema = z
  .object({
    manifest: EdgeFunctionSchema,
    bundle: BundleSchema,
  })
  .strict();
export type Deployment = z.output<typeof DeploymentSchema>;
export type DeploymentInput = z.input<typeof DeploymentSchema>;
