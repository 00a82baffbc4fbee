/**
 * Adapts the bridge (host functions that do not depend on the function: crypto, encodings,
 * timers, logging) to what the sandbox expects. The sandbox itself provides the async
 * `fetch`, `service` and `subtle` globals, so that their results re-enter the isolate
 * under a CPU timeout.
 */
import { createBridge } from "./bridge.ts";
import type { HostFunctionsFactory } from "./sandbox.ts";

export const createHostFunctions: HostFunctionsFactory = (hooks) => {
  const handledBySandbox = () => Promise.reject(new Error("edgefn: handled by the sandbox"));
  const bridge = createBridge({
    service: "",
    log: hooks.log,
    fetch: handledBySandbox,
    callService: handledBySandbox,
    fireTimer: hooks.fireTimer,
  });
  return { globals: bridge.globals, subtle: bridge.subtle, dispose: () => bridge.dispose() };
};
