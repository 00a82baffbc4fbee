/**
 * Inside the isolate: WebIDL "pair iterators" (Headers, FormData): each next() reads the
 * current list, so changes made while iterating show, as in browsers and Node.
 */

const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())) as object;

export type IterationKind = "key" | "value" | "key+value";

interface IteratorState {
  pairs: () => readonly (readonly [string, unknown])[];
  kind: IterationKind;
  index: number;
}

const states = new WeakMap<object, IteratorState>();

/** Makes the iterator prototype for one interface, e.g. "Headers Iterator". */
export function createPairIterator(tagName: string): (pairs: IteratorState["pairs"], kind: IterationKind) => IterableIterator<unknown> {
  const proto = Object.create(IteratorPrototype, {
    next: {
      value: function next(this: object) {
        const state = states.get(this);
        if (state === undefined) throw new TypeError(`next() called on an object that is not a ${tagName}`);
        const pairs = state.pairs();
        if (state.index >= pairs.length) return { value: undefined, done: true };
        const pair = pairs[state.index++]!;
        const value = state.kind === "key" ? pair[0] : state.kind === "value" ? pair[1] : [pair[0], pair[1]];
        return { value, done: false };
      },
      writable: true,
      enumerable: true,
      configurable: true,
    },
    [Symbol.toStringTag]: { value: tagName, configurable: true },
  }) as object;
  return (pairs, kind) => {
    const it = Object.create(proto) as IterableIterator<unknown>;
    states.set(it, { pairs, kind, index: 0 });
    return it;
  };
}
