import { webcrypto } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestIsolate, type TestIsolate } from "./_test-platform.ts";

const subtle = webcrypto.subtle;
let t: TestIsolate;
beforeAll(async () => {
  t = await createTestIsolate();
});
afterAll(() => t.dispose());

const DATA = new TextEncoder().encode("the quick brown fox jumps over the lazy dog");
const bytesOf = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b));
/** A Uint8Array literal for isolate code. */
const lit = (b: ArrayBuffer | Uint8Array) => `new Uint8Array(${JSON.stringify([...bytesOf(b)])})`;
const DATA_LIT = `new TextEncoder().encode("the quick brown fox jumps over the lazy dog")`;

describe("crypto.getRandomValues and randomUUID", () => {
  it("fills integer typed arrays in place and returns them", async () => {
    const got = await t.run<[boolean, number, boolean, number]>(`
      const a = new Uint32Array(64); const b = crypto.getRandomValues(a);
      const c = crypto.getRandomValues(new BigInt64Array(4));
      const big = crypto.getRandomValues(new Uint8Array(65536));
      return [a === b, a.filter((x) => x !== 0).length, c.some((x) => x !== 0n), new Set(big).size];`);
    expect(got[0]).toBe(true);
    expect(got[1]).toBeGreaterThan(60);
    expect(got[2]).toBe(true);
    expect(got[3]).toBe(256);
  });

  it("rejects what Node rejects, with the same names", async () => {
    const body = `
      const out = [];
      for (const make of [() => new Float32Array(1), () => new Float64Array(1), () => new DataView(new ArrayBuffer(1)), () => ({}), () => null, () => new Uint8Array(65537), () => new Uint32Array(16385)]) {
        try { crypto.getRandomValues(make()); out.push("ok") } catch (e) { out.push(e.name + ": " + e.message) }
      }
      return out;`;
    const expected = new Function("crypto", body)(webcrypto) as string[];
    expect(await t.run(body)).toEqual(expected);
  });

  it("randomUUID returns distinct version 4 UUIDs", async () => {
    const ids = await t.run<string[]>(`return Array.from({ length: 500 }, () => crypto.randomUUID())`);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(500);
  });
});

describe("crypto.subtle conforms to Node's WebCrypto", () => {
  it.each(["SHA-1", "SHA-256", "SHA-384", "SHA-512"])("digest %s", async (hash) => {
    const inputs = [new Uint8Array(0), DATA, new Uint8Array(100_000).fill(7)];
    for (const input of inputs) {
      const got = await t.run<ArrayBuffer>(`return crypto.subtle.digest(${JSON.stringify(hash)}, ${input.length > 1000 ? `new Uint8Array(${input.length}).fill(7)` : lit(input)})`);
      expect(bytesOf(got)).toEqual(bytesOf(await subtle.digest(hash, input)));
    }
  });

  it("digest accepts a view into a larger buffer and a DataView", async () => {
    const got = await t.run<ArrayBuffer[]>(`
      const buf = new Uint8Array([9, 9, 1, 2, 3, 9]).buffer;
      return [await crypto.subtle.digest("SHA-256", new Uint8Array(buf, 2, 3)), await crypto.subtle.digest({ name: "SHA-256" }, new DataView(buf, 2, 3))];`);
    const expected = bytesOf(await subtle.digest("SHA-256", new Uint8Array([1, 2, 3])));
    expect(got.map(bytesOf)).toEqual([expected, expected]);
  });

  it("HMAC: sign here, verify in Node, and back; JWK export is equal", async () => {
    const raw = webcrypto.getRandomValues(new Uint8Array(32));
    const alg = { name: "HMAC", hash: "SHA-256" };
    const nodeKey = await subtle.importKey("raw", raw, alg, true, ["sign", "verify"]);
    const nodeSig = await subtle.sign("HMAC", nodeKey, DATA);
    const [sig, ok, jwk] = await t.run<[ArrayBuffer, boolean, JsonWebKey]>(`
      const key = await crypto.subtle.importKey("raw", ${lit(raw)}, ${JSON.stringify(alg)}, true, ["sign", "verify"]);
      return [await crypto.subtle.sign("HMAC", key, ${DATA_LIT}), await crypto.subtle.verify("HMAC", key, ${lit(new Uint8Array(nodeSig))}, ${DATA_LIT}), await crypto.subtle.exportKey("jwk", key)];`);
    expect(await subtle.verify("HMAC", nodeKey, sig, DATA)).toBe(true);
    expect(ok).toBe(true);
    expect(jwk).toEqual(await subtle.exportKey("jwk", nodeKey));
  });

  const SIGNERS: [string, object, object, string[]][] = [
    ["ECDSA P-256", { name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }, ["sign", "verify"]],
    ["ECDSA P-384", { name: "ECDSA", namedCurve: "P-384" }, { name: "ECDSA", hash: "SHA-384" }, ["sign", "verify"]],
    ["Ed25519", { name: "Ed25519" }, { name: "Ed25519" }, ["sign", "verify"]],
    ["RSASSA-PKCS1-v1_5", { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: [1, 0, 1], hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }, ["sign", "verify"]],
    ["RSA-PSS", { name: "RSA-PSS", modulusLength: 2048, publicExponent: [1, 0, 1], hash: "SHA-256" }, { name: "RSA-PSS", saltLength: 32 }, ["sign", "verify"]],
  ];

  it.each(SIGNERS)("%s: keys made here sign for Node, keys made in Node sign here", async (_name, genAlg, signAlg, usages) => {
    const gen = JSON.stringify(genAlg).replace(/"publicExponent":\[1,0,1\]/, '"publicExponent":new Uint8Array([1,0,1])');
    const importAlg = { ...genAlg, publicExponent: undefined, modulusLength: undefined };
    // Made in the isolate: sign there, verify in Node with the exported public key.
    const [sig, spki, pkcs8, publicJwk] = await t.run<[ArrayBuffer, ArrayBuffer, ArrayBuffer, JsonWebKey]>(`
      const pair = await crypto.subtle.generateKey(${gen}, true, ${JSON.stringify(usages)});
      if (!(pair.privateKey instanceof CryptoKey) || pair.privateKey.type !== "private" || pair.publicKey.type !== "public") throw new Error("bad pair");
      return [await crypto.subtle.sign(${JSON.stringify(signAlg)}, pair.privateKey, ${DATA_LIT}), await crypto.subtle.exportKey("spki", pair.publicKey), await crypto.subtle.exportKey("pkcs8", pair.privateKey), await crypto.subtle.exportKey("jwk", pair.publicKey)];`);
    const nodePublic = await subtle.importKey("spki", spki, importAlg as never, true, ["verify"]);
    expect(await subtle.verify(signAlg as never, nodePublic, sig, DATA)).toBe(true);
    expect(publicJwk).toEqual(await subtle.exportKey("jwk", nodePublic));
    await expect(subtle.importKey("pkcs8", pkcs8, importAlg as never, true, ["sign"])).resolves.toBeDefined();
    // Made in Node: import its private JWK here, sign here, verify in Node.
    const nodePair = (await subtle.generateKey({ ...genAlg, publicExponent: new Uint8Array([1, 0, 1]) } as never, true, usages as KeyUsage[])) as CryptoKeyPair;
    const privateJwk = await subtle.exportKey("jwk", nodePair.privateKey);
    const nodeSig = await subtle.sign(signAlg as never, nodePair.privateKey, DATA);
    const [sig2, ok] = await t.run<[ArrayBuffer, boolean]>(`
      const key = await crypto.subtle.importKey("jwk", ${JSON.stringify(privateJwk)}, ${JSON.stringify(importAlg)}, false, ["sign"]);
      const pub = await crypto.subtle.importKey("spki", ${lit(new Uint8Array(await subtle.exportKey("spki", nodePair.publicKey)))}, ${JSON.stringify(importAlg)}, false, ["verify"]);
      return [await crypto.subtle.sign(${JSON.stringify(signAlg)}, key, ${DATA_LIT}), await crypto.subtle.verify(${JSON.stringify(signAlg)}, pub, ${lit(new Uint8Array(nodeSig))}, ${DATA_LIT})];`);
    expect(await subtle.verify(signAlg as never, nodePair.publicKey, sig2, DATA)).toBe(true);
    expect(ok).toBe(true);
  });

  const CIPHERS: [string, number, (iv: Uint8Array) => object][] = [
    ["AES-GCM", 12, (iv) => ({ name: "AES-GCM", iv, additionalData: new Uint8Array([1, 2, 3]), tagLength: 128 })],
    ["AES-CBC", 16, (iv) => ({ name: "AES-CBC", iv })],
    ["AES-CTR", 16, (iv) => ({ name: "AES-CTR", counter: iv, length: 64 })],
  ];

  it.each(CIPHERS)("%s: encrypt here, decrypt in Node, and back", async (name, ivLength, params) => {
    const raw = webcrypto.getRandomValues(new Uint8Array(32));
    const iv = webcrypto.getRandomValues(new Uint8Array(ivLength));
    const nodeKey = await subtle.importKey("raw", raw, name, true, ["encrypt", "decrypt"]);
    const p = params(iv);
    const paramsLit = JSON.stringify(p, (_key, v) => (v instanceof Uint8Array ? `@@${[...v].join(",")}@@` : v)).replace(/"@@([\d,]*)@@"/g, "new Uint8Array([$1])");
    const nodeCipher = await subtle.encrypt(p as never, nodeKey, DATA);
    const [cipher, plain] = await t.run<[ArrayBuffer, ArrayBuffer]>(`
      const key = await crypto.subtle.importKey("raw", ${lit(raw)}, ${JSON.stringify(name)}, false, ["encrypt", "decrypt"]);
      return [await crypto.subtle.encrypt(${paramsLit}, key, ${DATA_LIT}), await crypto.subtle.decrypt(${paramsLit}, key, ${lit(new Uint8Array(nodeCipher))})];`);
    expect(bytesOf(cipher)).toEqual(bytesOf(nodeCipher));
    expect(bytesOf(await subtle.decrypt(p as never, nodeKey, cipher))).toEqual(Buffer.from(DATA));
    expect(bytesOf(plain)).toEqual(Buffer.from(DATA));
  });

  it("RSA-OAEP: encrypt here with Node's public key, decrypt in Node, and back", async () => {
    const alg = { name: "RSA-OAEP", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
    const pair = (await subtle.generateKey(alg, true, ["encrypt", "decrypt"])) as CryptoKeyPair;
    const spki = new Uint8Array(await subtle.exportKey("spki", pair.publicKey));
    const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
    const nodeCipher = await subtle.encrypt({ name: "RSA-OAEP", label: new Uint8Array([7]) }, pair.publicKey, DATA);
    const [cipher, plain] = await t.run<[ArrayBuffer, ArrayBuffer]>(`
      const importAlg = { name: "RSA-OAEP", hash: "SHA-256" };
      const pub = await crypto.subtle.importKey("spki", ${lit(spki)}, importAlg, false, ["encrypt"]);
      const priv = await crypto.subtle.importKey("pkcs8", ${lit(pkcs8)}, importAlg, false, ["decrypt"]);
      return [await crypto.subtle.encrypt({ name: "RSA-OAEP" }, pub, ${DATA_LIT}), await crypto.subtle.decrypt({ name: "RSA-OAEP", label: new Uint8Array([7]) }, priv, ${lit(new Uint8Array(nodeCipher))})];`);
    expect(bytesOf(await subtle.decrypt({ name: "RSA-OAEP" }, pair.privateKey, cipher))).toEqual(Buffer.from(DATA));
    expect(bytesOf(plain)).toEqual(Buffer.from(DATA));
  });

  it("PBKDF2 and HKDF derive the same bits and keys as Node", async () => {
    const secret = new TextEncoder().encode("correct horse battery staple");
    const salt = new Uint8Array(16).fill(3);
    const pbkdf2 = { name: "PBKDF2", hash: "SHA-256", salt, iterations: 1000 };
    const hkdf = { name: "HKDF", hash: "SHA-512", salt, info: new Uint8Array([1, 2]) };
    const nodePb = await subtle.importKey("raw", secret, "PBKDF2", false, ["deriveBits", "deriveKey"]);
    const nodeHk = await subtle.importKey("raw", secret, "HKDF", false, ["deriveBits"]);
    const [pbBits, hkBits, aesRaw] = await t.run<ArrayBuffer[]>(`
      const salt = new Uint8Array(16).fill(3);
      const secret = new TextEncoder().encode("correct horse battery staple");
      const pb = await crypto.subtle.importKey("raw", secret, "PBKDF2", false, ["deriveBits", "deriveKey"]);
      const hk = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveBits"]);
      const pbAlg = { name: "PBKDF2", hash: "SHA-256", salt, iterations: 1000 };
      const aes = await crypto.subtle.deriveKey(pbAlg, pb, { name: "AES-GCM", length: 256 }, true, ["encrypt"]);
      return [await crypto.subtle.deriveBits(pbAlg, pb, 256), await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-512", salt, info: new Uint8Array([1, 2]) }, hk, 384), await crypto.subtle.exportKey("raw", aes)];`);
    expect(bytesOf(pbBits!)).toEqual(bytesOf(await subtle.deriveBits(pbkdf2, nodePb, 256)));
    expect(bytesOf(hkBits!)).toEqual(bytesOf(await subtle.deriveBits(hkdf, nodeHk, 384)));
    expect(bytesOf(aesRaw!)).toEqual(bytesOf(await subtle.deriveBits(pbkdf2, nodePb, 256)));
  });

  it("ECDH: both sides derive the same secret", async () => {
    const nodePair = (await subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
    const nodePublicRaw = new Uint8Array(await subtle.exportKey("raw", nodePair.publicKey));
    const [myPublicRaw, secret] = await t.run<[ArrayBuffer, ArrayBuffer]>(`
      const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
      const theirs = await crypto.subtle.importKey("raw", ${lit(nodePublicRaw)}, { name: "ECDH", namedCurve: "P-256" }, true, []);
      return [await crypto.subtle.exportKey("raw", pair.publicKey), await crypto.subtle.deriveBits({ name: "ECDH", public: theirs }, pair.privateKey, 256)];`);
    const mine = await subtle.importKey("raw", myPublicRaw, { name: "ECDH", namedCurve: "P-256" }, true, []);
    expect(bytesOf(secret)).toEqual(bytesOf(await subtle.deriveBits({ name: "ECDH", public: mine }, nodePair.privateKey, 256)));
  });

  it("wrapKey with AES-KW here, unwrapKey in Node", async () => {
    const kek = webcrypto.getRandomValues(new Uint8Array(16));
    const hmac = webcrypto.getRandomValues(new Uint8Array(32));
    const wrapped = await t.run<ArrayBuffer>(`
      const kek = await crypto.subtle.importKey("raw", ${lit(kek)}, "AES-KW", false, ["wrapKey", "unwrapKey"]);
      const key = await crypto.subtle.importKey("raw", ${lit(hmac)}, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
      const wrapped = await crypto.subtle.wrapKey("raw", key, kek, "AES-KW");
      const back = await crypto.subtle.unwrapKey("raw", wrapped, kek, "AES-KW", { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
      const raw = new Uint8Array(await crypto.subtle.exportKey("raw", back));
      if (raw.join() !== ${lit(hmac)}.join()) throw new Error("round trip failed");
      return wrapped;`);
    const nodeKek = await subtle.importKey("raw", kek, "AES-KW", false, ["unwrapKey"]);
    const key = await subtle.unwrapKey("raw", wrapped, nodeKek, "AES-KW", { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    expect(bytesOf(await subtle.exportKey("raw", key))).toEqual(Buffer.from(hmac));
  });

  const FAILURES: [string, string][] = [
    ["bad AES-GCM tag: OperationError", `const k = await s.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["decrypt"]); return s.decrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, k, new Uint8Array(32));`],
    ["bad key length: DataError", `return s.importKey("raw", new Uint8Array(3), "AES-GCM", true, ["encrypt"]);`],
    ["unknown hash: NotSupportedError", `return s.digest("MD5", new Uint8Array(1));`],
    ["missing usage: InvalidAccessError", `const k = await s.importKey("raw", new Uint8Array(16), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]); return s.sign("HMAC", k, new Uint8Array(1));`],
    ["empty usages: SyntaxError", `return s.generateKey({ name: "HMAC", hash: "SHA-256" }, true, []);`],
    ["not a key: TypeError", `return s.sign("HMAC", {}, new Uint8Array(1));`],
    ["not extractable: InvalidAccessError", `const k = await s.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"]); return s.exportKey("raw", k);`],
    ["bad JWK: DataError", `return s.importKey("jwk", { kty: "oct", k: "!!" , alg: "A128GCM" }, "AES-GCM", true, ["encrypt"]);`],
    ["data not a buffer: TypeError", `return s.digest("SHA-256", "text");`],
  ];

  it.each(FAILURES)("%s, as in Node", async (_name, body) => {
    const wrap = (code: string) => `const s = crypto.subtle; try { await (async () => { ${code} })(); return "resolved"; } catch (e) { return { name: e.name, isDom: e instanceof DOMException } }`;
    const got = (await t.run(wrap(body))) as { name: string; isDom: boolean };
    const expected = (await new Function("crypto", "DOMException", `return (async () => { ${wrap(body)} })()`)(webcrypto, DOMException)) as { name: string; isDom: boolean };
    expect(got).toEqual(expected);
  });
});

describe("CryptoKey, SubtleCrypto and Crypto", () => {
  it("look like their Web counterparts", async () => {
    const got = await t.run(`
      const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt"]);
      const out = [key instanceof CryptoKey, Object.prototype.toString.call(key), key.algorithm === key.algorithm, key.algorithm, key.usages, key.extractable, key.type,
        crypto.subtle instanceof SubtleCrypto, crypto instanceof Crypto, typeof crypto.subtle.digest];
      for (const C of [CryptoKey, SubtleCrypto, Crypto]) { try { new C(); out.push("constructed") } catch (e) { out.push(e.name) } }
      return out;`);
    expect(got).toEqual([true, "[object CryptoKey]", true, { name: "AES-GCM", length: 128 }, ["encrypt"], false, "secret", true, true, "function", "TypeError", "TypeError", "TypeError"]);
  });
});
