/**
 * Inside the isolate: installs the Web platform that is not fetch (fetch.ts does that):
 * encoding, base64, console, crypto, timers, events and abort, structuredClone,
 * DOMException, performance, navigator, and the `self` alias. It also removes WebAssembly,
 * whose memory the isolate's memory limit does not count.
 */
import type { Host } from "./host.ts";
import { AbortController, AbortSignal } from "./abort.ts";
import { atob, btoa } from "./base64.ts";
import { structuredClone } from "./clone.ts";
import { createConsole } from "./console.ts";
import { currentRequestId } from "./current.ts";
import { CryptoKey, createCrypto } from "./crypto.ts";
import { DOMException } from "./dom-exception.ts";
import { TextEncoder, createTextDecoderClass } from "./encoding.ts";
import { CustomEvent, Event, EventTarget, setErrorReporter } from "./events.ts";
import { inspect } from "./inspect.ts";
import { Performance } from "./performance.ts";
import { clearInterval, clearTimeout, installTimers, queueMicrotask, setInterval, setTimeout } from "./timers.ts";

class Navigator {
  get userAgent(): string {
    return "edgefn";
  }
  get hardwareConcurrency(): number {
    return 1;
  }
}

export function installPlatform(global: object, host: Host): void {
  const g = global as Record<string, unknown>;
  delete g.WebAssembly;

  installTimers(host);
  const console = createConsole(host);
  setErrorReporter((error) => {
    let text: string;
    try {
      text = inspect(error);
    } catch {
      text = "(an error that could not be formatted)";
    }
    host.log("error", currentRequestId(), `Uncaught ${text}`);
  });
  const { crypto, Crypto, SubtleCrypto } = createCrypto(host);
  const TextDecoder = createTextDecoderClass(host);

  // Classes keep their Web names even though the globals script is minified.
  const classes: Record<string, abstract new (...args: never[]) => unknown> = {
    AbortController, AbortSignal, Crypto, CryptoKey, CustomEvent, DOMException, Event, EventTarget,
    Navigator, Performance, SubtleCrypto, TextDecoder, TextEncoder,
  };
  for (const [name, value] of Object.entries(classes)) {
    Object.defineProperty(value, "name", { value: name, configurable: true });
    if (!Object.prototype.hasOwnProperty.call(value.prototype, Symbol.toStringTag)) {
      Object.defineProperty(value.prototype, Symbol.toStringTag, { value: name, configurable: true });
    }
  }
  const functions = {
    atob, btoa, clearInterval, clearTimeout, queueMicrotask, setInterval, setTimeout, structuredClone,
  };
  for (const [name, value] of Object.entries(functions)) Object.defineProperty(value, "name", { value: name, configurable: true });

  // As WebIDL defines globals: writable and configurable, not enumerable.
  const define = (name: string, value: unknown) =>
    Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
  for (const [name, value] of Object.entries({ ...classes, ...functions })) define(name, value);
  define("console", console);
  define("crypto", crypto);
  define("performance", new Performance());
  define("navigator", new Navigator());
  define("self", global);
}
