/**
 * What goes wrong talking to a site, as errors the cli renders by duck typing: the site's own
 * coded error (`{"error":{code,message,hint,issues?}}`), or a CliError that says what to fix:
 * the token (401), the address (nothing listens), or the URL (the answer is not edgefn's
 * control API).
 */
import { z } from "zod";
import { CliError, isCodedError } from "./errors.ts";
import type { SiteTarget } from "./target.ts";

const ErrorBodySchema = z.object({
  error: z.looseObject({
    code: z.string(),
    message: z.string(),
    hint: z.string().optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

/** An error the site reported: its code, message and hint, with `issues` shown as details. */
export class SiteApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly hint: string | undefined;
  readonly details: string | undefined;
  readonly issues: { path: string; message: string }[] | undefined;
  constructor(
    code: string,
    message: string,
    opts: { status: number; hint?: string | undefined; issues?: { path: string; message: string }[] | undefined },
  ) {
    super(message);
    this.name = "SiteApiError";
    this.code = code;
    this.status = opts.status;
    this.hint = opts.hint;
    this.issues = opts.issues;
    this.details = opts.issues?.map((i) => `${i.path || "(root)"}: ${i.message}`).join("\n");
  }
}

/** The site's coded error, with the fix for the cases a user meets most. */
export function errorOf(res: Response, text: string, target: SiteTarget, route: string): Error {
  if (res.status === 401) {
    return new CliError("ERR_UNAUTHORIZED", `The site at ${target.url} refused the control token from ${target.from.token}.`, {
      hint: `Use that site's token: it is in <site-dir>/control.token (\`export EDGEFN_TOKEN=$(cat <site-dir>/control.token)\`), or pass it with --token.`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = ErrorBodySchema.safeParse(json);
  if (!parsed.success) {
    return new CliError("ERR_SITE_RESPONSE", `The site at ${target.url} answered ${route} with ${res.status} ${res.statusText}, not an edgefn error.`.replace(" ,", ","), {
      ...(text.trim() === "" ? {} : { details: text.trim().slice(0, 300) }),
      hint: `Check that ${target.from.url} is the control API of an edgefn site (\`edgefn site up\` prints it), not its ingress or a proxy.`,
    });
  }
  const e = parsed.data.error;
  if (typeof e["requestId"] === "string") {
    // Errors with a request id come from invoking a function: this is the site's ingress.
    return new CliError("ERR_SITE_RESPONSE", `${target.url} answered ${route} as a site's ingress does, not as its control API.`, {
      hint: `Point ${target.from.url} at the control URL: \`edgefn site up\` prints both, the ingress and the control one.`,
    });
  }
  const hint = e.hint ?? (e.code === "ERR_SERVICE_NOT_FOUND" ? "Run `edgefn ls` to see the functions on this site." : undefined);
  return new SiteApiError(e.code, e.message, { status: res.status, hint, issues: e.issues });
}

/** fetch() failed before any answer: name the URL and where it came from. */
export function connectionError(err: unknown, target: SiteTarget, route: string, timeoutMs: number): CliError {
  const cause = (err as { cause?: unknown }).cause;
  const code = isCodedError(cause) ? cause.code : undefined;
  if ((err as { name?: unknown }).name === "TimeoutError") {
    return new CliError("ERR_CONNECTION_FAILED", `The site at ${target.url} did not answer ${route} within ${timeoutMs / 1000} s.`, {
      hint: "The site may be overloaded or stuck; check the terminal running `edgefn site up`, then try again.",
      cause: err,
    });
  }
  if (code === "ECONNREFUSED") {
    return new CliError("ERR_CONNECTION_REFUSED", `Could not connect to the site at ${target.url} (from ${target.from.url}): connection refused.`, {
      hint: `Is the site running? Start it with \`edgefn site up <site-dir>\`, or point ${target.from.url} at its control address.`,
      cause: err,
    });
  }
  if (reasonOf(err) === "bad port") {
    // fetch() refuses ports on the Fetch standard's blocklist (1, 25, 6000, 6665-6669, ...).
    return new CliError("ERR_CONNECTION_FAILED", `Could not reach the site at ${target.url} (from ${target.from.url}): fetch refuses that port (the Fetch standard blocks it).`, {
      hint: "Run the site's control API on another port (`edgefn site up <site-dir> --control 127.0.0.1:9080`) and point edgefn at it.",
      cause: err,
    });
  }
  return new CliError("ERR_CONNECTION_FAILED", `Could not reach the site at ${target.url} (from ${target.from.url}): ${reasonOf(err)}.`, {
    hint: `Check the host and port in ${target.from.url}, and that the site is running (\`edgefn site up <site-dir>\`).`,
    cause: err,
  });
}

export function reasonOf(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}
