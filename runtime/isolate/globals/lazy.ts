/**
 * Inside the isolate: globals whose implementation is evaluated on first use. The globals
 * script runs in every context, and web-streams-polyfill and whatwg-url together would add
 * ~0.8 ms and ~140 KB to each even when a function never touches them (a Hono app usually
 * does not). Their modules are `require()`d, which esbuild keeps lazy in the bundle.
 */

/**
 * Defines `names` on `g` as accessors that call `load()` once, then turn into plain
 * writable data properties, as WebIDL globals are.
 */
export function defineLazyGlobals(g: object, names: readonly string[], load: () => Record<string, unknown>): void {
  const getters = new Set<unknown>();
  const settle = (name: string, value: unknown) =>
    Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
  const settleAll = () => {
    const values = load();
    for (const name of names) {
      // Only those still lazy: user code may have replaced some already.
      if (getters.has(Object.getOwnPropertyDescriptor(g, name)?.get)) settle(name, values[name]);
    }
    return values;
  };
  for (const name of names) {
    const get = () => settleAll()[name];
    getters.add(get);
    Object.defineProperty(g, name, {
      get,
      set: (value: unknown) => settle(name, value),
      configurable: true,
      enumerable: false,
    });
  }
}
