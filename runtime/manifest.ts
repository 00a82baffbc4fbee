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
const HOST_LABEL = "[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?";
/** 1-65535 in at most five digits, leading zeros allowed (`0443`), spelled out so the JSON Schema and CRD check it too. */
const PORT = "(0{0,4}[1-9]|0{0,3}[1-9][0-9]|0{0,2}[1-9][0-9]{2}|0?[1-9][0-9]{3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])";
/**
 * `host:port`, host may start with `*.` to allow every subdomain. Any case: entries are
 * lower-cased after the check. No lookarounds or flags: Kubernetes checks it with Go's RE2.
 */
const EGRESS_ENTRY = new RegExp(`^(\\*\\.)?${HOST_LABEL}(\\.${HOST_LABEL})*:${PORT}$`);

/**
 * A strict object whose unknown-field error lists the fields it does allow, so a typo
 * (`limitz`) points at the right name.
 */
function strictObject<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}; allowed: ${allowed}`
        : undefined,
  });
}

/** A record whose bad-key error says what a key must be (zod's default is "Invalid key in record"). */
function envRecord<V extends z.ZodType>(value: V) {
  return z.record(EnvNameSchema, value, {
    error: (issue) =>
      issue.code === "invalid_key" ? `invalid name: ${issue.issues.map((i) => i.message).join("; ")}` : undefined,
  });
}

export const FunctionNameSchema = z
  .string()
  .max(63, "must be at most 63 characters (a DNS-1123 label)")
  .regex(DNS_LABEL, "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit");

const EnvNameSchema = z
  .string()
  .regex(ENV_NAME, "must be a variable name: letters, digits and '_', not starting with a digit");

/** Resource limits; every field has a default so `limits` may be omitted. */
export const LimitsSchema = strictObject({
  cpuMs: z.number().int().min(1).max(30_000).default(50)
    .meta({ description: "CPU time, in milliseconds, one request may use inside the isolate." }),
  memoryMb: z.number().int().min(8).max(4096).default(128)
    .meta({ description: "Heap limit of the function's isolate, in MiB." }),
  timeoutMs: z.number().int().min(1).max(900_000).default(30_000)
    .meta({ description: "Wall-clock time, in milliseconds, from request start to the end of the response." }),
  concurrency: z.number().int().min(1).max(100_000).default(64)
    .meta({ description: "Requests in flight at once in one runtime; more get 503 with Retry-After." }),
  requestBytes: z.number().int().min(0).max(1024 * 1024 * 1024).default(1024 * 1024)
    .meta({ description: "Largest request body accepted, in bytes; larger gets 413." }),
});
export type Limits = z.output<typeof LimitsSchema>;

export const SecretRefSchema = strictObject({
  name: EnvNameSchema.meta({ description: "Binding name: the value is `env.<name>` in the function." }),
  secretRef: strictObject({
    name: z.string().min(1, "must be a non-empty secret name").meta({ description: "Name of the secret." }),
    key: z.string().min(1, "must be a non-empty key").meta({ description: "Key inside the secret." }),
  }).meta({ description: "Where the value comes from: a key of a secret (a Kubernetes Secret on Kubernetes)." }),
});

export const EgressEntrySchema = z
  .string()
  .regex(EGRESS_ENTRY, "must be host:port with a port of 1-65535, e.g. api.example.com:443 or *.example.com:443")
  .transform((s) => s.toLowerCase());

export const PlacementSchema = strictObject({
  sites: z.array(z.string().min(1)).default(["*"])
    .meta({ description: "Site name globs (`edge-*`) where the function runs; default everywhere." }),
  requires: z.array(FunctionNameSchema).default([])
    .meta({ description: "Hardware capabilities a site must offer (e.g. gpu)." }),
  trust: z.enum(["any", "trusted"]).default("any")
    .meta({ description: "`trusted`: never placed on untrusted sites (nor are its secrets)." }),
});

export const AccessSchema = strictObject({
  public: z.boolean().default(true)
    .meta({ description: "Reachable from the HTTP ingress; false: only from other functions." }),
  callers: z.array(FunctionNameSchema).optional()
    .meta({ description: "Functions allowed to call this one over the VAN; absent: anyone." }),
});

export const FunctionSpecSchema = strictObject({
  source: z.string().min(1).default("./index.ts")
    .meta({ description: "Entry point, relative to the manifest; bundled by build and deploy." }),
  priority: z.enum(PRIORITIES).default("normal")
    .meta({ description: "Priority tier: PriorityClass on Kubernetes, admission and shedding order in the runtime." }),
  limits: LimitsSchema.default(() => LimitsSchema.parse({}))
    .meta({ description: "Resource limits of one function." }),
  env: envRecord(z.string()).default({})
    .meta({ description: "Plain environment values, as `env.<NAME>` in the function." }),
  secrets: z.array(SecretRefSchema).default([])
    .meta({ description: "Secret values, as `env.<name>` in the function." }),
  services: envRecord(FunctionNameSchema).default({})
    .meta({ description: "Bindings to other functions over the VAN: `env.<NAME>` calls the named function." }),
  // prefault, not default: zod documents no default of a schema that transforms (egress lower-cases).
  egress: z.array(EgressEntrySchema).prefault([])
    .meta({ description: "Hosts the function may fetch, as host:port (`*.example.com:443` for subdomains); default deny." }),
  placement: PlacementSchema.default(() => PlacementSchema.parse({}))
    .meta({ description: "Which sites may run the function." }),
  access: AccessSchema.default(() => AccessSchema.parse({}))
    .meta({ description: "Who may call the function." }),
}).superRefine((spec, ctx) => {
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

export const MetadataSchema = strictObject({
  name: FunctionNameSchema.meta({ description: "The function's name: its VAN service name and URL path." }),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const EdgeFunctionSchema = strictObject({
  apiVersion: z.literal(API_VERSION, { error: `must be ${API_VERSION}` }),
  kind: z.literal(KIND, { error: `must be ${KIND}` }),
  metadata: MetadataSchema,
  spec: FunctionSpecSchema.default(() => FunctionSpecSchema.parse({})),
});
export type EdgeFunction = z.output<typeof EdgeFunctionSchema>;
export type EdgeFunctionInput = z.input<typeof EdgeFunctionSchema>;

/** A site glob of `placement.sites` as a RegExp: `edge-*` -> /^edge-.*$/ (`?`: one character). */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${body}$`);
}

/**
 * Why `fn` may not run at `site`, or undefined when it may: its `placement.sites` globs must
 * match the site's name, and a `trust: trusted` function never runs on an untrusted site.
 * (`placement.requires` is not checked here: on Kubernetes it becomes node affinity.) The one
 * placement rule: `edgefn manifests` and the in-cluster runtime both use it.
 */
export function notPlacedAt(fn: EdgeFunction, site: string, trust: "trusted" | "untrusted"): string | undefined {
  const { sites, trust: needs } = fn.spec.placement;
  if (!sites.some((glob) => globToRegExp(glob).test(site))) return `placement.sites [${sites.join(", ")}] does not match site ${site}`;
  if (needs === "trusted" && trust === "untrusted") return `placement.trust is trusted and site ${site} is untrusted`;
  return undefined;
}

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

/*
 * The control API (runtime/control.ts), as the cli reads it. Every route needs
 * `Authorization: Bearer <token>`; errors are `{"error":{code,message,hint,issues?}}`.
 *
 *   GET    /v1/site                                  -> SiteInfo
 *   GET    /v1/functions                             -> { site, functions: FunctionInfo[] }
 *   GET    /v1/functions/:name                       -> { function: FunctionInfo }
 *   PUT    /v1/functions/:name        Deployment     -> { function: FunctionInfo }  (verify, then switch)
 *   POST   /v1/functions/:name/rollback  { version? } -> { function: FunctionInfo } (default: the previous kept version)
 *   DELETE /v1/functions/:name                       -> { removed: name }
 *   PUT    /v1/functions/:name/secrets/:secret  raw value (any content type) -> { function, secret }  (never echoed)
 *   DELETE /v1/functions/:name/secrets/:secret       -> { function, secret }
 *   GET    /v1/logs?function=&follow=true&tail=100   -> application/x-ndjson, one LogLine per line
 */

export const FunctionInfoSchema = z.object({
  name: FunctionNameSchema,
  version: z.number().int().positive(),
  digest: DigestSchema,
  priority: z.enum(PRIORITIES),
  status: z.enum(["live"]),
  deployedAt: z.string(),
  url: z.string(),
  /** Versions kept on the site for rollback, newest first (the current one included). */
  versions: z.array(z.object({ version: z.number().int().positive(), digest: DigestSchema, deployedAt: z.string() })),
  /** Names of the secrets set for this function; values are never returned. */
  secrets: z.array(z.string()),
});
export type FunctionInfo = z.output<typeof FunctionInfoSchema>;

export const SiteInfoSchema = z.object({
  name: z.string(),
  region: z.string(),
  ingressUrl: z.string(),
  functions: z.number().int().nonnegative(),
  /** Versions kept per function for rollback. */
  keepVersions: z.number().int().positive(),
  /** The site's X25519 public key (SPKI PEM), what `edgefn secret seal` encrypts to; absent without keys/site.pub. */
  sealKey: z.string().optional(),
});
export type SiteInfo = z.output<typeof SiteInfoSchema>;

export const RollbackRequestSchema = z.object({ version: z.number().int().positive().optional() }).strict();

/** One line of `GET /v1/logs`: the runtime's own JSON log line, as pino wrote it. */
export const LogLineSchema = z.looseObject({
  ts: z.number(),
  level: z.string(),
  msg: z.string(),
  scope: z.string().optional(),
  service: z.string().optional(),
  requestId: z.string().optional(),
});
export type LogLine = z.output<typeof LogLineSchema>;

/** Secret names are environment variable names: they become `env.<NAME>`. */
export const SecretNameSchema = EnvNameSchema;
