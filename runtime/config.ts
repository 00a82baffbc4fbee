/** RuntimeConfigSchema: the only reader of process.env in the runtime. */
import { availableParallelism } from "node:os";
import { z } from "zod";
import { LOG_LEVELS } from "./log.ts";
import { PRIORITIES } from "./manifest.ts";

const HostPortSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, "must be host:port, e.g. 127.0.0.1:8787 (port 0 picks a free one)")
  .transform((s) => {
    const at = s.lastIndexOf(":");
    return { host: s.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(s.slice(at + 1)) };
  })
  .refine((a) => a.port <= 65535, "port must be 0-65535");

const intFromEnv = (min: number, fallback: number) =>
  z.coerce.number().int().min(min).default(fallback);

export const RuntimeConfigSchema = z.object({
  /** The public ingress: `/<function>/*`. */
  EDGEFN_HTTP: HostPortSchema.default({ host: "127.0.0.1", port: 8787 }),
  /** The control API (deploy, list, remove); needs the token. */
  EDGEFN_CONTROL: HostPortSchema.default({ host: "127.0.0.1", port: 8788 }),
  EDGEFN_CONTROL_TOKEN: z
    .string({ error: "EDGEFN_CONTROL_TOKEN is required: the bearer token the control API accepts" })
    .min(16, "EDGEFN_CONTROL_TOKEN must be at least 16 characters"),
  EDGEFN_SITE_NAME: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "EDGEFN_SITE_NAME must be a DNS-1123 label").default("local"),
  EDGEFN_REGION: z.string().min(1).default("local"),
  EDGEFN_LOG: z.enum(LOG_LEVELS, { error: `EDGEFN_LOG must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
  /** Warm isolates kept at most; the rest load on their next request. */
  EDGEFN_MAX_WARM: intFromEnv(1, 200),
  /** An isolate idle this long is disposed. */
  EDGEFN_IDLE_MS: intFromEnv(1_000, 5 * 60_000),
  /** Isolates made ahead of time so cold starts skip isolate creation. */
  EDGEFN_SPARES: intFromEnv(0, 2),
  /** CPUs the site's isolates may use: admission refuses low priorities when they are busy (default: all). */
  EDGEFN_CPUS: intFromEnv(1, availableParallelism()),
  /** Site directory (edgefn site init): durable state goes to <dir>/state. Unset: memory only. */
  EDGEFN_STATE_DIR: z.string().min(1).optional(),
  /** Versions kept per function for rollback. */
  EDGEFN_KEEP_VERSIONS: intFromEnv(1, 5),
  /** The site's VAN router (host:port): functions not deployed here are called over it. Unset: no VAN. */
  EDGEFN_VAN: HostPortSchema.optional(),
  /**
   * The VAN listener for links from other sites (mutual TLS, host:port). Set: the site runs its
   * own router (and EDGEFN_VAN, if also set, is ignored). Unset: no router here.
   */
  EDGEFN_VAN_LISTEN: HostPortSchema.optional(),
  /** `untrusted`: the site gets no trusted-only functions and its callers are not believed. */
  EDGEFN_SITE_TRUST: z.enum(["trusted", "untrusted"], { error: "EDGEFN_SITE_TRUST must be trusted or untrusted" }).default("trusted"),
  /**
   * Kubernetes namespace whose EdgeFunction objects this runtime runs (runtime/kube-watch.ts),
   * with the cluster from KUBECONFIG, ~/.kube/config or the pod's service account. Unset: off.
   */
  EDGEFN_KUBE_WATCH: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "EDGEFN_KUBE_WATCH must be a namespace name (DNS-1123 label)").optional(),
  /** Only functions of this priority run here (one runtime Deployment per tier). Unset: every tier. */
  EDGEFN_PRIORITY_TIER: z.enum(PRIORITIES, { error: `EDGEFN_PRIORITY_TIER must be one of ${PRIORITIES.join(", ")}` }).optional(),
  /** "1": stop when stdin closes, for a parent (edgefn dev) that may die without stopping us. */
  EDGEFN_STDIN_LIFELINE: z.enum(["0", "1"], { error: "EDGEFN_STDIN_LIFELINE must be 0 or 1" }).default("0"),
});

export type RuntimeConfig = z.output<typeof RuntimeConfigSchema>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses the environment; throws ConfigError with every problem listed. */
export function parseRuntimeConfig(env: Record<string, string | undefined>): RuntimeConfig {
  const result = RuntimeConfigSchema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
  throw new ConfigError(`invalid runtime configuration:\n${lines.join("\n")}`);
}
