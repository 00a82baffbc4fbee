/**
 * Inside the isolate: AbortController and AbortSignal (DOM Standard), including
 * AbortSignal.abort/timeout/any. Signals made by any() are held weakly by their sources, as
 * the standard says, so combining a long-lived signal per request does not leak.
 */
import { DOMException } from "./dom-exception.ts";
import { Event, EventTarget, reportError } from "./events.ts";
import { setTimeout } from "./timers.ts";

const TOKEN = Symbol("internal");

let createSignal: () => AbortSignal;
let signalAbort: (signal: AbortSignal, reason: unknown) => void;

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason: unknown = undefined;
  #onabort: ((this: AbortSignal, event: Event) => unknown) | null = null;
  #handlerAdded = false;
  #dependents: Set<WeakRef<AbortSignal>> | null = null;
  #sources: AbortSignal[] | null = null;

  static {
    createSignal = () => new AbortSignal(TOKEN);
    signalAbort = (signal, reason) => signal.#abort(reason);
  }

  constructor(token?: symbol) {
    if (token !== TOKEN) throw new TypeError("Illegal constructor");
    super();
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  get onabort(): ((this: AbortSignal, event: Event) => unknown) | null {
    return this.#onabort;
  }

  set onabort(handler: ((this: AbortSignal, event: Event) => unknown) | null) {
    this.#onabort = typeof handler === "function" ? handler : null;
    if (!this.#handlerAdded && this.#onabort !== null) {
      this.#handlerAdded = true;
      this.addEventListener("abort", (event: Event) => this.#onabort?.call(this, event));
    }
  }

  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  static abort(reason?: unknown): AbortSignal {
    const signal = createSignal();
    signal.#aborted = true;
    signal.#reason = reason === undefined ? abortError() : reason;
    return signal;
  }

  static timeout(milliseconds: number): AbortSignal {
    if (typeof milliseconds !== "number") {
      throw new TypeError(`The "delay" argument must be of type number. Received type ${typeof milliseconds}`);
    }
    if (!Number.isFinite(milliseconds) || milliseconds < 0 || milliseconds > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(`The "milliseconds" argument must be a finite number from 0 to ${Number.MAX_SAFE_INTEGER}. Received ${String(milliseconds)}`);
    }
    const signal = createSignal();
    const ref = new WeakRef(signal);
    setTimeout(() => {
      const target = ref.deref();
      if (target !== undefined) signalAbort(target, new DOMException("The operation was aborted due to timeout", "TimeoutError"));
    }, milliseconds);
    return signal;
  }

  static any(signals: Iterable<AbortSignal>): AbortSignal {
    const list = [...signals];
    for (const s of list) {
      if (!(s instanceof AbortSignal)) throw new TypeError('The "signals" argument must be an iterable of AbortSignal');
    }
    const result = createSignal();
    for (const s of list) {
      if (s.#aborted) {
        result.#aborted = true;
        result.#reason = s.#reason;
        return result;
      }
    }
    const sources: AbortSignal[] = [];
    for (const s of list) {
      // A dependent signal's sources are never dependents themselves (the standard flattens).
      for (const source of s.#sources ?? [s]) {
        if (sources.includes(source)) continue;
        sources.push(source);
        (source.#dependents ??= new Set()).add(new WeakRef(result));
      }
    }
    result.#sources = sources;
    return result;
  }

  #abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason === undefined ? abortError() : reason;
    const dependents: AbortSignal[] = [];
    for (const ref of this.#dependents ?? []) {
      const dependent = ref.deref();
      if (dependent !== undefined && !dependent.#aborted) {
        dependent.#aborted = true;
        dependent.#reason = this.#reason;
        dependents.push(dependent);
      }
    }
    this.#dependents = null;
    this.#fire();
    for (const dependent of dependents) dependent.#fire();
  }

  #fire(): void {
    try {
      this.dispatchEvent(new Event("abort"));
    } catch (error) {
      reportError(error);
    }
  }
}

export class AbortController {
  #signal = createSignal();

  get signal(): AbortSignal {
    return this.#signal;
  }

  abort(reason?: unknown): void {
    signalAbort(this.#signal, reason);
  }
}

function abortError(): DOMException {
  return new DOMException("This operation was aborted", "AbortError");
}
