/**
 * Client for a runtime's control API: `PUT /v1/functions/<name>` with a DeploymentInput body,
 * `DELETE /v1/functions/<name>`, Bearer token. Failures come back as the runtime's own coded
 * error (`{"error":{code,message,hint}}`), which the cli renders by duck typing.
 */
import { z } from "zod";
import type { DeploymentInput } from "../runtime/manifest.ts";

const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }).loose(),
});
const DeployedSchema = z.object({ function: z.record(z.string(), z.unknown()) }).loose();

/** An error the control API reported, or a failure to reach it; carries a string `code`. */
export class ControlError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly status: number | undefined;
  constructor(code: string, message: string, opts: { hint?: string; status?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "ControlError";
    this.code = code;
    this.hint = opts.hint;
    this.status = opts.status;
  }
}

export interface ControlClient {
  deploy(name: string, body: DeploymentInput): Promise<Record<string, unknown>>;
  remove(name: string): Promise<void>;
}

export function createControlClient(baseUrl: string, token: string): ControlClient {
  const call = async (method: "PUT" | "DELETE", name: string, body?: unknown): Promise<unknown> => {
    const url = `${baseUrl.replace(/\/+$/, "")}/v1/functions/${encodeURIComponent(name)}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ControlError("ERR_CONNECTION_FAILED", `${method} ${url} failed: ${(err as Error).message}.`, { cause: err });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.ok) return json;
    const parsed = ErrorBodySchema.safeParse(json);
    if (parsed.success) {
      const e = parsed.data.error;
      throw new ControlError(e.code, e.message, { status: res.status, ...(e.hint === undefined ? {} : { hint: e.hint }) });
    }
    throw new ControlError("ERR_DEPLOY_FAILED", `${method} ${url} answered ${res.status}: ${text.slice(0, 200)}`, {
      status: res.status,
    });
  };
  return {
    async deploy(name, body) {
      const json = await call("PUT", name, body);
      const parsed = DeployedSchema.safeParse(json);
      return parsed.success ? parsed.data.function : {};
    },
    async remove(name) {
      try {
        await call("DELETE", name);
      } catch (err) {
        // Already gone is what we wanted.
        if (err instanceof ControlError && err.status === 404) return;
        throw err;
      }
    },
  };
}
