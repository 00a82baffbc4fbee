/**
 * Inside the isolate: Event, CustomEvent and EventTarget (DOM Standard, without a tree: an
 * event has one target, so capture and bubble are the same phase). A listener that throws
 * does not stop the others; its error is reported (console.error), as browsers do.
 */
import { DOMException } from "./dom-exception.ts";
import { performanceNow } from "./performance.ts";

let report: (error: unknown) => void = () => {};

/** Where listener errors go (platform.ts points it at the console). */
export function setErrorReporter(fn: (error: unknown) => void): void {
  report = fn;
}

export function reportError(error: unknown): void {
  report(error);
}

interface EventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

// The dispatcher reaches an event's private state through these (set in a static block), so
// user code cannot forge it.
let setDispatch: (event: Event, target: EventTarget | null, phase: number) => void;
let isStopped: (event: Event) => boolean;
let isDispatching: (event: Event) => boolean;
let inPassive: (event: Event, passive: boolean) => void;

export class Event {
  static readonly NONE = 0;
  static readonly CAPTURING_PHASE = 1;
  static readonly AT_TARGET = 2;
  static readonly BUBBLING_PHASE = 3;

  #type: string;
  #bubbles: boolean;
  #cancelable: boolean;
  #composed: boolean;
  #target: EventTarget | null = null;
  #current: EventTarget | null = null;
  #phase = 0;
  #canceled = false;
  #stop = false;
  #stopNow = false;
  #passive = false;
  #dispatching = false;
  #timeStamp = performanceNow();

  static {
    setDispatch = (event, target, phase) => {
      event.#current = target;
      event.#phase = phase;
      if (phase === 2) {
        event.#target = target;
        event.#dispatching = true;
      } else if (phase === 0) {
        event.#dispatching = false;
        event.#stop = false;
        event.#stopNow = false;
      }
    };
    isStopped = (event) => event.#stopNow;
    isDispatching = (event) => event.#dispatching;
    inPassive = (event, passive) => {
      event.#passive = passive;
    };
  }

  constructor(type: string, init?: EventInit | null) {
    if (arguments.length === 0) throw new TypeError('The "type" argument must be specified');
    this.#type = String(type);
    this.#bubbles = Boolean(init?.bubbles);
    this.#cancelable = Boolean(init?.cancelable);
    this.#composed = Boolean(init?.composed);
  }

  get type(): string {
    return this.#type;
  }
  get target(): EventTarget | null {
    return this.#target;
  }
  get srcElement(): EventTarget | null {
    return this.#target;
  }
  get currentTarget(): EventTarget | null {
    return this.#current;
  }
  get eventPhase(): number {
    return this.#phase;
  }
  get bubbles(): boolean {
    return this.#bubbles;
  }
  get cancelable(): boolean {
    return this.#cancelable;
  }
  get composed(): boolean {
    return this.#composed;
  }
  get defaultPrevented(): boolean {
    return this.#cancelable && this.#canceled;
  }
  get returnValue(): boolean {
    return !this.defaultPrevented;
  }
  set returnValue(value: boolean) {
    if (!value) this.preventDefault();
  }
  get cancelBubble(): boolean {
    return this.#stop;
  }
  set cancelBubble(value: boolean) {
    if (value) this.#stop = true;
  }
  get isTrusted(): boolean {
    return false;
  }
  get timeStamp(): number {
    return this.#timeStamp;
  }
  composedPath(): EventTarget[] {
    return this.#dispatching && this.#current !== null ? [this.#current] : [];
  }
  preventDefault(): void {
    if (this.#cancelable && !this.#passive) this.#canceled = true;
  }
  stopPropagation(): void {
    this.#stop = true;
  }
  stopImmediatePropagation(): void {
    this.#stop = true;
    this.#stopNow = true;
  }
  initEvent(type: string, bubbles = false, cancelable = false): void {
    if (this.#dispatching) return;
    this.#type = String(type);
    this.#bubbles = Boolean(bubbles);
    this.#cancelable = Boolean(cancelable);
  }
}

for (const [name, value] of [["NONE", 0], ["CAPTURING_PHASE", 1], ["AT_TARGET", 2], ["BUBBLING_PHASE", 3]] as const) {
  Object.defineProperty(Event.prototype, name, { value, enumerable: true });
}

export class CustomEvent<T = unknown> extends Event {
  #detail: T | null;
  constructor(type: string, init?: (EventInit & { detail?: T }) | null) {
    super(type, init);
    this.#detail = init?.detail ?? null;
  }
  get detail(): T | null {
    return this.#detail;
  }
}

type Callback = ((event: Event) => unknown) | { handleEvent(event: Event): unknown };

interface Listener {
  callback: Callback;
  capture: boolean;
  once: boolean;
  passive: boolean;
  removed: boolean;
}

interface AddOptions {
  capture?: boolean;
  once?: boolean;
  passive?: boolean;
  signal?: AbortSignalLike;
}

/** What addEventListener needs of an AbortSignal (abort.ts imports this file, not vice versa). */
interface AbortSignalLike {
  aborted: boolean;
  addEventListener(type: string, fn: () => void, options?: { once?: boolean }): void;
}

export class EventTarget {
  #listeners = new Map<string, Listener[]>();

  addEventListener(type: string, callback: Callback | null, options?: AddOptions | boolean): void {
    if (callback === null || callback === undefined) return;
    if (typeof callback !== "function" && typeof callback !== "object") {
      throw new TypeError('The "listener" argument must be a function or an object with handleEvent');
    }
    const opts = typeof options === "object" && options !== null ? options : { capture: Boolean(options) };
    const capture = Boolean(opts.capture);
    const signal = opts.signal;
    if (signal?.aborted) return;
    type = String(type);
    let list = this.#listeners.get(type);
    if (list === undefined) this.#listeners.set(type, (list = []));
    if (list.some((l) => l.callback === callback && l.capture === capture)) return;
    const listener: Listener = { callback, capture, once: Boolean(opts.once), passive: Boolean(opts.passive), removed: false };
    list.push(listener);
    signal?.addEventListener("abort", () => this.removeEventListener(type, callback, { capture }), { once: true });
  }

  removeEventListener(type: string, callback: Callback | null, options?: { capture?: boolean } | boolean): void {
    const capture = typeof options === "object" && options !== null ? Boolean(options.capture) : Boolean(options);
    const list = this.#listeners.get(String(type));
    if (list === undefined) return;
    const index = list.findIndex((l) => l.callback === callback && l.capture === capture);
    if (index === -1) return;
    list[index]!.removed = true;
    list.splice(index, 1);
  }

  dispatchEvent(event: Event): boolean {
    if (!(event instanceof Event)) throw new TypeError('The "event" argument must be an instance of Event.');
    if (isDispatching(event)) throw new DOMException("The event is already being dispatched.", "InvalidStateError");
    setDispatch(event, this, 2);
    try {
      const list = this.#listeners.get(event.type);
      if (list !== undefined) {
        // Listeners added while dispatching do not run; removed ones do not either.
        for (const listener of list.slice()) {
          if (listener.removed) continue;
          if (listener.once) this.removeEventListener(event.type, listener.callback, { capture: listener.capture });
          inPassive(event, listener.passive);
          try {
            const cb = listener.callback;
            if (typeof cb === "function") cb.call(this, event);
            else if (typeof cb.handleEvent === "function") cb.handleEvent(event);
          } catch (error) {
            report(error);
          }
          inPassive(event, false);
          if (isStopped(event)) break;
        }
      }
    } finally {
      setDispatch(event, null, 0);
    }
    return !event.defaultPrevented;
  }
}
