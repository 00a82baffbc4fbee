/** RuntimeError: every failure the runtime reports to a caller, with a code, status and hint. */

export type RuntimeErrorCode =
  | "ERR_MANIFEST_INVALID" // user: deploy payload failed DeploymentSchema
  | "ERR_DIGEST_MISMATCH" // user: bundle bytes do not hash to the digest sent with them
  | "ERR_MODULE_LOAD" // user: the bundle threw or lacks a default export with fetch()
  | "ERR_SERVICE_NOT_FOUND" // user: no function of that name here
  | "ERR_NOT_PUBLIC" // user: access.public is false; only other functions may call it
  | "ERR_BODY_TOO_LARGE" // user: request body over limits.requestBytes
  | "ERR_CONCURRENCY_LIMIT" // load: limits.concurrency requests already in flight
  | "ERR_SHED" // load: the site is saturated and refuses this priority for now (DESIGN.md "Priorities")
  | "ERR_CPU_LIMIT" // user: a request used more CPU than limits.cpuMs
  | "ERR_MEMORY_LIMIT" // user: the isolate went over limits.memoryMb
  | "ERR_FUNCTION_TIMEOUT" // user: no response within limits.timeoutMs
  | "ERR_FUNCTION_THREW" // user: uncaught exception in user code
  | "ERR_FUNCTION_BAD_RESPONSE" // user: fetch() resolved to something that is not a Response
  | "ERR_NO_HEALTHY_SITE" // load: over the VAN, no site could take the call (deployed nowhere, or all saturated or down)
  | "ERR_ISOLATE_CRASHED" // system: the isolate or the process hosting it died under the request
  | "ERR_UNAUTHORIZED" // user: control API called without the right bearer token
  | "ERR_VERSION_NOT_FOUND" // user: rollback to a version the site does not keep
  | "ERR_SECRET_CONFLICT" // user: a secret named like a spec.env variable or service binding
  | "ERR_SECRET_NOT_FOUND" // user: removing a secret that is not set
  | "ERR_STATE_WRITE" // system: the site's state could not be written to disk
  | "ERR_NO_VAN" // user: a VAN route on a site started without --van
  | "ERR_NOT_CA" // user: token create on a site that does not hold the network CA
  | "ERR_TOKEN_INVALID" // user: a link token this site never issued (or a malformed one)
  | "ERR_TOKEN_USED" // user: a link token redeemed already (they are one-time)
  | "ERR_TOKEN_EXPIRED" // user: a link token past its expiry
  | "ERR_SITE_NAME_TAKEN" // user: a site of that name is in the network already
  | "ERR_OTHER_NETWORK" // user: linking a site that is in another network already
  | "ERR_LINK_SELF" // user: a token of this very site
  | "ERR_LINK_EXISTS" // user: the peer links to this site already (one link per pair)
  | "ERR_LINK_NOT_FOUND" // user: removing a link that does not exist
  | "ERR_CLAIM_FAILED" // user/system: the issuing site could not be reached or refused the claim
  | "ERR_PLACEMENT" // user: a trusted-only function deployed to an untrusted site
  | "ERR_NO_GITOPS" // user: a GitOps route on a site that runs no agent, or is not attached
  | "ERR_GITOPS_CONFIG" // user: attach with a repository that cannot be used (no state dir, bad path)
  | "ERR_WEBHOOK_UNAUTHORIZED" // user: the webhook call lacks the webhook token (or its signature is wrong)
  | "ERR_INTERNAL"; // system: a bug in edgefn

export interface RuntimeErrorOptions {
  status?: number;
  hint?: string;
  cause?: unknown;
  /** Extra response headers, e.g. Retry-After. */
  headers?: Record<string, string>;
  /** Every problem of an invalid input, with its path (`spec.limits.cpuMs`). */
  issues?: { path: string; message: string }[];
}

export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  readonly status: number;
  readonly hint: string | undefined;
  readonly headers: Record<string, string>;
  readonly issues: { path: string; message: string }[] | undefined;

  constructor(code: RuntimeErrorCode, message: string, opts: RuntimeErrorOptions = {}) {
    super(message, { cause: opts.cause });
    this.name = "RuntimeError";
    this.code = code;
    this.status = opts.status ?? 500;
    this.hint = opts.hint;
    this.headers = opts.headers ?? {};
    this.issues = opts.issues;
  }

  toJSON(requestId?: string): { code: RuntimeErrorCode; message: string; hint?: string; requestId?: string; issues?: { path: string; message: string }[] } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(requestId === undefined ? {} : { requestId }),
      ...(this.issues === undefined ? {} : { issues: this.issues }),
    };
  }

  /** `{"error":{code,message,hint,requestId}}` with this error's status and headers. */
  toResponse(requestId?: string): Response {
    return new Response(JSON.stringify({ error: this.toJSON(requestId) }), {
      status: this.status,
      headers: { "content-type": "application/json; charset=utf-8", ...this.headers },
    });
  }
}

export function isRuntimeError(err: unknown): err is RuntimeError {
  return err instanceof RuntimeError;
}
