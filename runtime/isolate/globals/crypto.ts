/**
 * Inside the isolate: `crypto` (getRandomValues, randomUUID) and `crypto.subtle`. Random bytes
 * come from the host in 4 KiB batches, so randomUUID() is not a host hop each time. Every
 * subtle operation is one async host call (`host.subtle(op, args)`, Node's webcrypto on the
 * host): keys stay on the host, and a CryptoKey here holds only their id. Errors come back as
 * { name, message } and are rethrown as DOMException (or TypeError) with Node's name.
 */
import type { Host } from "./host.ts";
import { DOMException } from "./dom-exception.ts";
import { copyBytes, typedArrayName } from "./bytes.ts";

/** What the host returns for a key (bridge.ts, KeyWire). */
export interface KeyWire {
  id: number;
  type: "secret" | "public" | "private";
  extractable: boolean;
  algorithm: Record<string, unknown>;
  usages: string[];
}

/** Host results never reject: failures are data, so their name survives the crossing. */
export type SubtleResult = { ok: true; value: unknown } | { ok: false; name: string; message: string };

/** How a CryptoKey inside an algorithm parameter (ECDH `public`) crosses to the host. */
export const KEY_REF = "__edgefnKeyId";

const INTEGER_ARRAYS = ["Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array"];
const MAX_RANDOM = 65536;
const POOL = 4096;
let hex: string[] | undefined; // byte -> two hex digits, built on first randomUUID()

const TOKEN = Symbol("internal");
let keyId: (key: CryptoKey) => number;

export class CryptoKey {
  #id: number;
  #type: KeyWire["type"];
  #extractable: boolean;
  #algorithm: Record<string, unknown>;
  #usages: string[];

  static {
    keyId = (key) => key.#id;
  }

  constructor(token?: symbol, wire?: KeyWire) {
    if (token !== TOKEN || wire === undefined) throw new TypeError("Illegal constructor");
    this.#id = wire.id;
    this.#type = wire.type;
    this.#extractable = wire.extractable;
    this.#algorithm = wire.algorithm;
    this.#usages = wire.usages;
  }

  get type(): string {
    return this.#type;
  }
  get extractable(): boolean {
    return this.#extractable;
  }
  get algorithm(): Record<string, unknown> {
    return this.#algorithm;
  }
  get usages(): string[] {
    return this.#usages;
  }
}

export function createCrypto(host: Host) {
  let pool: Uint8Array = new Uint8Array(0);
  let poolAt = 0;

  function randomBytes(length: number): Uint8Array {
    if (length > POOL / 4) return host.random(length);
    if (poolAt + length > pool.length) {
      pool = host.random(POOL);
      poolAt = 0;
    }
    const out = pool.subarray(poolAt, poolAt + length);
    poolAt += length;
    return out;
  }

  // Keys the isolate dropped are released on the host with the next subtle call (or in a
  // batch), so a key per request does not pile up on the host.
  let released: number[] = [];
  const registry = new FinalizationRegistry<number>((id) => {
    released.push(id);
    if (released.length >= 256) flushReleased();
  });
  function flushReleased(): void {
    const ids = released;
    released = [];
    void host.subtle("release", [ids]).catch(() => {});
  }

  function wrapKey(wire: KeyWire): CryptoKey {
    const key = new CryptoKey(TOKEN, wire);
    registry.register(key, wire.id);
    return key;
  }

  function unwrapResult(value: unknown): unknown {
    if (value !== null && typeof value === "object" && "id" in value && "usages" in value) return wrapKey(value as KeyWire);
    if (value !== null && typeof value === "object" && "publicKey" in value && "privateKey" in value) {
      const pair = value as { publicKey: KeyWire; privateKey: KeyWire };
      return { publicKey: wrapKey(pair.publicKey), privateKey: wrapKey(pair.privateKey) };
    }
    return value;
  }

  async function call(op: string, args: unknown[]): Promise<unknown> {
    if (released.length > 0) flushReleased();
    const result = (await host.subtle(op, args)) as SubtleResult;
    if (result.ok) return unwrapResult(result.value);
    if (result.name === "TypeError") throw new TypeError(result.message);
    throw new DOMException(result.message, result.name);
  }

  class SubtleCrypto {
    constructor(token?: symbol) {
      if (token !== TOKEN) throw new TypeError("Illegal constructor");
    }
    digest(algorithm: unknown, data: unknown): Promise<ArrayBuffer> {
      return run(() => ["digest", [alg(algorithm), bytes(data, "data")]]);
    }
    importKey(format: unknown, keyData: unknown, algorithm: unknown, extractable: unknown, usages: unknown): Promise<CryptoKey> {
      return run(() => ["importKey", [String(format), format === "jwk" ? plain(keyData, "keyData") : bytes(keyData, "keyData"), alg(algorithm), Boolean(extractable), list(usages)]]);
    }
    exportKey(format: unknown, key: unknown): Promise<ArrayBuffer | JsonWebKey> {
      return run(() => ["exportKey", [String(format), id(key)]]);
    }
    generateKey(algorithm: unknown, extractable: unknown, usages: unknown): Promise<CryptoKey | CryptoKeyPair> {
      return run(() => ["generateKey", [alg(algorithm), Boolean(extractable), list(usages)]]);
    }
    sign(algorithm: unknown, key: unknown, data: unknown): Promise<ArrayBuffer> {
      return run(() => ["sign", [alg(algorithm), id(key), bytes(data, "data")]]);
    }
    verify(algorithm: unknown, key: unknown, signature: unknown, data: unknown): Promise<boolean> {
      return run(() => ["verify", [alg(algorithm), id(key), bytes(signature, "signature"), bytes(data, "data")]]);
    }
    encrypt(algorithm: unknown, key: unknown, data: unknown): Promise<ArrayBuffer> {
      return run(() => ["encrypt", [alg(algorithm), id(key), bytes(data, "data")]]);
    }
    decrypt(algorithm: unknown, key: unknown, data: unknown): Promise<ArrayBuffer> {
      return run(() => ["decrypt", [alg(algorithm), id(key), bytes(data, "data")]]);
    }
    deriveBits(algorithm: unknown, baseKey: unknown, length?: unknown): Promise<ArrayBuffer> {
      return run(() => ["deriveBits", [alg(algorithm), id(baseKey), length === undefined ? null : Number(length)]]);
    }
    deriveKey(algorithm: unknown, baseKey: unknown, derivedKeyType: unknown, extractable: unknown, usages: unknown): Promise<CryptoKey> {
      return run(() => ["deriveKey", [alg(algorithm), id(baseKey), alg(derivedKeyType), Boolean(extractable), list(usages)]]);
    }
    wrapKey(format: unknown, key: unknown, wrappingKey: unknown, wrapAlgorithm: unknown): Promise<ArrayBuffer> {
      return run(() => ["wrapKey", [String(format), id(key), id(wrappingKey), alg(wrapAlgorithm)]]);
    }
    unwrapKey(format: unknown, wrappedKey: unknown, unwrappingKey: unknown, unwrapAlgorithm: unknown, unwrappedKeyAlgorithm: unknown, extractable: unknown, usages: unknown): Promise<CryptoKey> {
      return run(() => ["unwrapKey", [String(format), bytes(wrappedKey, "wrappedKey"), id(unwrappingKey), alg(unwrapAlgorithm), alg(unwrappedKeyAlgorithm), Boolean(extractable), list(usages)]]);
    }
  }

  /** Argument errors reject the promise (as WebCrypto does) rather than throw synchronously. */
  function run<T>(prepare: () => [string, unknown[]]): Promise<T> {
    try {
      const [op, args] = prepare();
      return call(op, args) as Promise<T>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  const subtle = new SubtleCrypto(TOKEN);

  class Crypto {
    constructor(token?: symbol) {
      if (token !== TOKEN) throw new TypeError("Illegal constructor");
    }
    get subtle(): SubtleCrypto {
      return subtle;
    }
    getRandomValues<T extends ArrayBufferView | null>(array: T): T {
      const name = typedArrayName(array);
      if (name === undefined || !INTEGER_ARRAYS.includes(name)) {
        throw new DOMException("The data argument must be an integer-type TypedArray", "TypeMismatchError");
      }
      const view = array as unknown as ArrayBufferView;
      if (view.byteLength > MAX_RANDOM) {
        throw new DOMException("The requested length exceeds 65,536 bytes", "QuotaExceededError");
      }
      new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(randomBytes(view.byteLength));
      return array;
    }
    randomUUID(): string {
      const b = randomBytes(16);
      const HEX = (hex ??= Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1)));
      const h = (i: number) => HEX[i === 6 ? (b[i]! & 0x0f) | 0x40 : i === 8 ? (b[i]! & 0x3f) | 0x80 : b[i]!]!;
      return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
    }
  }

  return { crypto: new Crypto(TOKEN), Crypto, SubtleCrypto };
}

function id(key: unknown): number {
  if (!(key instanceof CryptoKey)) throw new TypeError('The "key" argument must be an instance of CryptoKey.');
  return keyId(key);
}

function bytes(value: unknown, name: string): Uint8Array {
  return copyBytes(value, name);
}

function list(usages: unknown): string[] {
  if (usages === null || typeof usages !== "object" || !(Symbol.iterator in usages)) {
    throw new TypeError('The "keyUsages" argument must be a sequence of strings.');
  }
  return Array.from(usages as Iterable<unknown>, String);
}

function plain(value: unknown, name: string): Record<string, unknown> {
  if (value === null || typeof value !== "object") throw new TypeError(`The "${name}" argument must be of type object.`);
  return alg(value) as Record<string, unknown>;
}

/**
 * An algorithm (or JWK) as plain copyable data: buffers copied to their exact bytes, keys by
 * id, functions dropped. Getters run once, here, as WebIDL dictionary conversion would.
 */
function alg(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof CryptoKey) return { [KEY_REF]: keyId(value) };
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return copyBytes(value, "algorithm");
  if (depth > 4) return undefined;
  if (Array.isArray(value)) return value.map((v) => alg(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v !== "function" && typeof v !== "symbol") out[key] = alg(v, depth + 1);
  }
  return out;
}
