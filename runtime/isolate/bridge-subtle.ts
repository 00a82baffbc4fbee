/**
 * Host side of `crypto.subtle` for one isolate: Node's WebCrypto does the work, keys stay
 * here by id, and every outcome is data ({ ok, value } or { ok: false, name, message }) so a
 * DOMException's name (OperationError, DataError...) survives the crossing.
 */
import { webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
export type SubtleKeys = Map<number, CryptoKey>;

/** Live keys per isolate; the isolate releases the ones it drops (FinalizationRegistry). */
export const MAX_KEYS = 50_000;
/** Same as globals/crypto.ts KEY_REF: a CryptoKey inside an algorithm (ECDH `public`). */
const KEY_REF = "__edgefnKeyId";

export interface KeyWire {
  id: number;
  type: string;
  extractable: boolean;
  algorithm: unknown;
  usages: string[];
}

export type SubtleResult = { ok: true; value: unknown } | { ok: false; name: string; message: string };

let nextId = 1;

class SubtleFailure extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export async function runSubtle(keys: SubtleKeys, op: string, args: unknown[], disposed: () => boolean): Promise<SubtleResult> {
  try {
    if (disposed()) throw new SubtleFailure("OperationError", "The function's isolate was disposed");
    const value = await dispatch(keys, op, args);
    return { ok: true, value: toWire(keys, value) };
  } catch (error) {
    const e = error as { name?: unknown; message?: unknown };
    const name = typeof e?.name === "string" && e.name !== "Error" ? e.name : "OperationError";
    return { ok: false, name, message: String(e?.message ?? error) };
  }
}

function dispatch(keys: SubtleKeys, op: string, a: unknown[]): Promise<unknown> | unknown {
  const subtle = webcrypto.subtle;
  const key = (i: number): CryptoKey => {
    const found = keys.get(a[i] as number);
    if (found === undefined) throw new SubtleFailure("InvalidAccessError", "The key is not known to this isolate");
    return found;
  };
  const alg = (i: number) => resolveKeys(keys, a[i]) as AlgorithmIdentifier;
  const data = (i: number) => a[i] as Uint8Array<ArrayBuffer>;
  const usages = (i: number) => a[i] as KeyUsage[];
  switch (op) {
    case "digest":
      return subtle.digest(alg(0), data(1));
    case "importKey":
      return a[0] === "jwk"
        ? subtle.importKey("jwk", a[1] as JsonWebKey, alg(2), Boolean(a[3]), usages(4))
        : subtle.importKey(a[0] as "raw", data(1), alg(2), Boolean(a[3]), usages(4));
    case "exportKey":
      return subtle.exportKey(a[0] as "raw", key(1));
    case "generateKey":
      return subtle.generateKey(alg(0) as RsaHashedKeyGenParams, Boolean(a[1]), usages(2));
    case "sign":
      return subtle.sign(alg(0), key(1), data(2));
    case "verify":
      return subtle.verify(alg(0), key(1), data(2), data(3));
    case "encrypt":
      return subtle.encrypt(alg(0), key(1), data(2));
    case "decrypt":
      return subtle.decrypt(alg(0), key(1), data(2));
    case "deriveBits":
      return subtle.deriveBits(alg(0) as EcdhKeyDeriveParams, key(1), a[2] as number);
    case "deriveKey":
      return subtle.deriveKey(alg(0) as EcdhKeyDeriveParams, key(1), alg(2), Boolean(a[3]), usages(4));
    case "wrapKey":
      return subtle.wrapKey(a[0] as "raw", key(1), key(2), alg(3));
    case "unwrapKey":
      return subtle.unwrapKey(a[0] as "raw", data(1), key(2), alg(3), alg(4), Boolean(a[5]), usages(6));
    case "release":
      for (const id of a[0] as number[]) keys.delete(id);
      return undefined;
    default:
      throw new SubtleFailure("NotSupportedError", `Unknown operation: ${op}`);
  }
}

/** Replaces { [KEY_REF]: id } with the key it names. */
function resolveKeys(keys: SubtleKeys, value: unknown): unknown {
  if (value === null || typeof value !== "object" || ArrayBuffer.isView(value)) return value;
  const record = value as Record<string, unknown>;
  if (typeof record[KEY_REF] === "number") {
    const key = keys.get(record[KEY_REF]);
    if (key === undefined) throw new SubtleFailure("InvalidAccessError", "The key is not known to this isolate");
    return key;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) out[k] = resolveKeys(keys, v);
  return out;
}

function toWire(keys: SubtleKeys, value: unknown): unknown {
  if (value instanceof globalThis.CryptoKey) return keyWire(keys, value);
  if (value !== null && typeof value === "object" && "privateKey" in value && "publicKey" in value) {
    const pair = value as CryptoKeyPair;
    return { publicKey: keyWire(keys, pair.publicKey), privateKey: keyWire(keys, pair.privateKey) };
  }
  return value;
}

function keyWire(keys: SubtleKeys, key: CryptoKey): KeyWire {
  if (keys.size >= MAX_KEYS) {
    throw new SubtleFailure("QuotaExceededError", `Too many live CryptoKeys in this isolate (${MAX_KEYS}); reuse keys instead of importing per call`);
  }
  const id = nextId++;
  keys.set(id, key);
  return { id, type: key.type, extractable: key.extractable, algorithm: plain(key.algorithm), usages: [...key.usages] };
}

/** A key's algorithm as plain data (Node's may carry getters or a Uint8Array exponent). */
function plain(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = plain((value as Record<string, unknown>)[key]);
  return out;
}
