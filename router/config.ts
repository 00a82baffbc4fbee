/** RouterConfigSchema: the only reader of process.env in the router. */
import { hostname } from "node:os";
import { z } from "zod";
import { LOG_LEVELS } from "./log.ts";

const HostPortSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, "must be host:port, e.g. 127.0.0.1:5672 (port 0 picks a free one)")
  .transform((s) => {
    const at = s.lastIndexOf(":");
    return { host: s.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(s.slice(at + 1)) };
  })
  .refine((a) => a.port <= 65535, "port must be 0-65535");

/** One peer this router connects out to: `host:port@cost` (cost: a positive number, default 1). */
const RouterLinkSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s@,]+):\d{1,5}(@\d+(\.\d+)?)?$/, "each link must be host:port@cost, e.g. 10.0.0.2:5672@5")
  .transform((s) => {
    const [hostPort = s, cost] = s.split("@");
    const at = hostPort.lastIndexOf(":");
    return { host: hostPort.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(hostPort.slice(at + 1)), cost: cost === undefined ? 1 : Number(cost) };
  })
  .refine((l) => l.port >= 1 && l.port <= 65535, "a link's port must be 1-65535")
  .refine((l) => l.cost > 0, "a link's cost must be greater than 0");
/**
 * A link to dial. `peer`: the site (router id) expected at the other end; over mutual TLS its
 * certificate must name it. Links configured in the environment do not name one.
 */
export type RouterLink = z.output<typeof RouterLinkSchema> & { peer?: string };

export const RouterConfigSchema = z.object({
  /** Where callers and consumers connect (AMQP 1.0, plain TCP for now). */
  EDGEFN_ROUTER_LISTEN: HostPortSchema.default({ host: "127.0.0.1", port: 5672 }),
  /** This router's id in the network: advertisements, reply addresses, the AMQP container id. */
  EDGEFN_ROUTER_ID: z
    .string()
    .regex(/^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/, "EDGEFN_ROUTER_ID must be 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit")
    .default(() => hostname().replace(/[^-A-Za-z0-9_.]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 63) || "router"),
  /** Peers to connect out to, comma-separated `host:port@cost`; reconnected with backoff when lost. */
  EDGEFN_ROUTER_LINKS: z
    .string()
    .default("")
    .transform((s) => s.split(",").map((x) => x.trim()).filter((x) => x !== ""))
    .pipe(z.array(RouterLinkSchema)),
  EDGEFN_LOG: z.enum(LOG_LEVELS, { error: `EDGEFN_LOG must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
});

export type RouterConfig = z.output<typeof RouterConfigSchema>;
export type RouterConfigInput = z.input<typeof RouterConfigSchema>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses the environment (or any such record); throws ConfigError with every problem listed. */
export function parseRouterConfig(env: Record<string, string | undefined>): RouterConfig {
  const result = RouterConfigSchema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
  throw new ConfigError(`invalid router configuration:\n${lines.join("\n")}`);
}
