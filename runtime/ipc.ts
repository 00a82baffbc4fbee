/** Messages between the supervisor and its isolate host worker (over the fork IPC channel). */
import { z } from "zod";
import { DeploymentSchema, FunctionNameSchema, PRIORITIES, SecretNameSchema } from "./manifest.ts";

export const WorkerRequestSchema = z.discriminatedUnion("method", [
  z.object({
    id: z.number(),
    method: z.literal("deploy"),
    deployment: DeploymentSchema,
    /** false when replaying deployments already verified, after a worker restart. */
    verify: z.boolean(),
    /** The supervisor numbers versions, so they survive worker restarts. */
    version: z.number().int().positive(),
  }),
  z.object({ id: z.number(), method: z.literal("remove"), name: FunctionNameSchema }),
  /** Every secret of one function (replaces the previous set): they join its `env`. */
  z.object({ id: z.number(), method: z.literal("secrets"), name: FunctionNameSchema, secrets: z.record(SecretNameSchema, z.string()) }),
  /** Admission's latest sample: how saturated the isolate host is, and what it limits. */
  z.object({ id: z.number(), method: z.literal("load") }),
]);
export type WorkerRequest = z.output<typeof WorkerRequestSchema>;
/** A request as the supervisor makes it; it adds the id. */
export type WorkerCall = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

export const LoadSchema = z.object({
  pressure: z.number(),
  isolateCpu: z.number(),
  lagMs: z.number(),
  shedding: z.array(z.enum(PRIORITIES)),
  limits: z.partialRecord(z.enum(PRIORITIES), z.number()),
});
export type Load = z.output<typeof LoadSchema>;

export const WorkerErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
  status: z.number(),
});

export const WorkerReplySchema = z.union([
  z.object({
    id: z.number(),
    ok: z.literal(true),
    result: z.union([
      z.object({ name: z.string(), digest: z.string(), version: z.number() }),
      z.object({ removed: z.boolean() }),
      z.object({ secrets: z.number() }),
      LoadSchema,
    ]),
  }),
  z.object({ id: z.number(), ok: z.literal(false), error: WorkerErrorSchema }),
]);
export type WorkerReply = z.output<typeof WorkerReplySchema> & { ok: true };
export type WorkerReplyAny = z.output<typeof WorkerReplySchema>;
