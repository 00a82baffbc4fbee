/**
 * RouterError: every failure the router reports, with a code and the AMQP error condition it
 * goes out as (on a rejected delivery, a refused link or a closed connection).
 */

export type RouterErrorCode =
  | "ERR_DECODE" // peer: a message failed the wire contract in protocol.ts (a field missing or malformed)
  | "ERR_ADDRESS_INVALID" // user: a function name that is not a DNS-1123 label, so no fn/<name> address
  | "ERR_ADDRESS_NOT_FOUND" // peer: an address nobody in the network serves
  | "ERR_NO_HEALTHY_SITE" // load: consumers exist, but none attached with credit (hung or saturated)
  | "ERR_UNAUTHORIZED" // peer: an untrusted site attaching to an address it was not granted
  | "ERR_DEADLINE_EXCEEDED" // peer: the message's absolute_expiry_time passed before delivery
  | "ERR_INTERNAL"; // system: a bug in edgefn

/** The AMQP error condition each code goes out as; `edgefn:` ones are ours (AMQP allows any symbol). */
export const ROUTER_ERROR_CONDITIONS = {
  ERR_DECODE: "amqp:decode-error",
  ERR_ADDRESS_INVALID: "amqp:invalid-field",
  ERR_ADDRESS_NOT_FOUND: "amqp:not-found",
  ERR_NO_HEALTHY_SITE: "edgefn:no-healthy-site",
  ERR_UNAUTHORIZED: "amqp:unauthorized-access",
  ERR_DEADLINE_EXCEEDED: "edgefn:deadline-exceeded",
  ERR_INTERNAL: "amqp:internal-error",
} as const satisfies Record<RouterErrorCode, string>;

export type AmqpErrorCondition = (typeof ROUTER_ERROR_CONDITIONS)[RouterErrorCode];

export interface RouterErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Every problem of an invalid input, with its path (`application_properties[":path"]`). */
  issues?: { path: string; message: string }[];
}

export class RouterError extends Error {
  readonly code: RouterErrorCode;
  readonly condition: AmqpErrorCondition;
  readonly hint: string | undefined;
  readonly issues: { path: string; message: string }[] | undefined;

  constructor(code: RouterErrorCode, message: string, opts: RouterErrorOptions = {}) {
    super(message, { cause: opts.cause });
    this.name = "RouterError";
    this.code = code;
    this.condition = ROUTER_ERROR_CONDITIONS[code];
    this.hint = opts.hint;
    this.issues = opts.issues;
  }

  toJSON(): { code: RouterErrorCode; message: string; hint?: string; issues?: { path: string; message: string }[] } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.issues === undefined ? {} : { issues: this.issues }),
    };
  }

  /** The AMQP error as rhea takes it: `delivery.reject(err.toAmqpError())`, `link.close(...)`. */
  toAmqpError(): { condition: AmqpErrorCondition; description: string } {
    return { condition: this.condition, description: this.message };
  }
}

export function isRouterError(err: unknown): err is RouterError {
  return err instanceof RouterError;
}
