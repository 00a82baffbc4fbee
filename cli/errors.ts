/**
 * CliError: every failure the user can fix, with a code, a one-sentence message and a hint.
 * Anything that is not a CliError (nor another error with a string `code`) is a bug.
 */

export type CliErrorCode =
  | "ERR_USAGE" // usage: unknown command, bad flag or argument (exit 2, with usage text)
  | "ERR_MANIFEST_NOT_FOUND" // user: no edgefn.yaml under the directory given
  | "ERR_MANIFEST_INVALID" // user: edgefn.yaml is not YAML, or fails EdgeFunctionSchema
  | "ERR_DUPLICATE_FUNCTION" // user: two edgefn.yaml files declare the same metadata.name
  | "ERR_SOURCE_NOT_FOUND" // user: spec.source names a file that does not exist
  | "ERR_BUILD_FAILED" // user: esbuild reported errors (syntax, Node built-in import, ...)
  | "ERR_TEMPLATE_NOT_FOUND" // user: --template names no template
  | "ERR_INVALID_NAME" // user: a function name that is not a DNS-1123 label
  | "ERR_DIR_NOT_EMPTY" // user: init into a non-empty directory without --force
  | "ERR_FILE_NOT_FOUND" // user: a file named on the command line (--data @file) is missing
  | "ERR_CONNECTION_REFUSED" // user: nothing listens at the URL (no `edgefn dev` running?)
  | "ERR_CONNECTION_FAILED" // user: the request failed for another network reason
  | "ERR_HTTP_STATUS" // user: the function answered with a non-2xx status
  | "ERR_RUNTIME_START" // user/system: the runtime child exited or hung before its ready line
  | "ERR_RUNTIME_EXITED" // system: the runtime child died while `edgefn dev` was serving
  | "ERR_DEPLOY_FAILED" // user: one or more functions of `edgefn deploy` did not go live
  | "ERR_NO_SITE" // user: no --site flag and no EDGEFN_SITE: which site to talk to is unknown
  | "ERR_NO_TOKEN" // user: no --token flag and no EDGEFN_TOKEN for the site's control API
  | "ERR_UNAUTHORIZED" // user: the site refused the control token (401)
  | "ERR_SITE_RESPONSE" // user/system: the site answered something that is not its API (wrong URL? other version?)
  | "ERR_SITE_EXISTS" // user: `site init` into a directory that is already a site, without --force
  | "ERR_NOT_A_SITE" // user: `site up` on a directory without a valid site.json and control.token
  | "ERR_STDIN_TTY" // user: `secret put` with a terminal on stdin (the value would echo and land in history)
  | "ERR_SECRET_EMPTY" // user: `secret put` read an empty value from stdin
  | "ERR_TOKEN_INVALID" // user: `link create` on a file that is not a link token (JSON, LinkTokenSchema)
  | "ERR_TOKEN_EXPIRED" // user: `link create` with a token past its expiresAt
  | "ERR_GITOPS_FAILED" // user: `gitops sync`/`attach` ended with the site not at the branch's commit (error in the repo, or offline)
  | "ERR_NOTHING_PLACED" // user: `manifests` found functions, but none is placed at the --site given
  | "ERR_KUBE_INVALID" // user/system: a rendered Kubernetes object fails the API schemas or edgefn's checks
  | "ERR_KUBECONFIG" // user: no kubeconfig, an unknown context, or one without a cluster
  | "ERR_KUBE_UNREACHABLE" // user: the API server did not answer (refused, DNS, TLS)
  | "ERR_KUBE_UNAUTHORIZED" // user: the API server refused the credentials (401)
  | "ERR_KUBE_FORBIDDEN" // user: RBAC refused the apply (403)
  | "ERR_KUBE_APPLY"; // user: the API refused an object (invalid, unknown kind, conflict, ...)

export interface CliErrorOptions {
  /** What to do next, one or two sentences. */
  hint?: string;
  /** Extra lines shown under the message (build errors, a child's stderr). */
  details?: string;
  cause?: unknown;
}

export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly hint: string | undefined;
  readonly details: string | undefined;

  constructor(code: CliErrorCode, message: string, opts: CliErrorOptions = {}) {
    super(message, { cause: opts.cause });
    this.name = "CliError";
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  toJSON(): { code: string; message: string; hint?: string; details?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** A usage error; `usage` is the command's help text, printed after the message. */
export class UsageError extends CliError {
  readonly usage: string | undefined;
  constructor(message: string, opts: CliErrorOptions & { usage?: string } = {}) {
    super("ERR_USAGE", message, opts);
    this.name = "UsageError";
    this.usage = opts.usage;
  }
}

/** Exit codes: each means one thing, so scripts can branch on them. */
export const EXIT = { ok: 0, user: 1, usage: 2, bug: 70 } as const;

/** An error the user can act on: it carries a string `code` (ours, the runtime's, Node's). */
export interface CodedError {
  code: string;
  message: string;
  hint?: string | undefined;
  details?: string | undefined;
  requestId?: string | undefined;
}

/** Duck typing, as hono's error handler does: never import another folder's error class. */
export function isCodedError(err: unknown): err is CodedError {
  return (
    typeof err === "object" &&
    err !== null &&
    typeof (err as { code?: unknown }).code === "string" &&
    typeof (err as { message?: unknown }).message === "string"
  );
}

export function exitCodeFor(err: unknown): number {
  if (isCodedError(err)) return err.code === "ERR_USAGE" ? EXIT.usage : EXIT.user;
  return EXIT.bug;
}
