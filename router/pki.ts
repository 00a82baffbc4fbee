/**
 * The certificate library of the VAN's mutual TLS. Each network has one self-signed CA; every
 * site of it holds a certificate that CA signed, whose SAN URIs say who the site is:
 * `urn:edgefn:site:<site>`, `urn:edgefn:trust:<trusted|untrusted>`, `urn:edgefn:network:<id>`
 * and one `urn:edgefn:grant:<address>` per address an untrusted site may attach to.
 * Keys are ECDSA P-256, signatures ECDSA with SHA-256; everything goes in and out as PEM.
 */
import { createPrivateKey, createPublicKey, KeyObject, randomBytes, X509Certificate as NodeCert } from "node:crypto";
// tsyringe (under @peculiar/x509) needs the Reflect metadata API loaded before it.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { edgefnUris, GRANT, identityFromAltNames, LABEL, NETWORK, URN, type SiteIdentity, type Trust } from "./identity.ts";

export { identityFromAltNames, type SiteIdentity, type Trust } from "./identity.ts";

x509.cryptoProvider.set(globalThis.crypto);

export interface KeyPair {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
}

export type PkiErrorCode =
  | "ERR_BAD_INPUT" // a site, network, trust or grant that is not well formed
  | "ERR_BAD_CSR" // a request that does not parse, is not self-signed correctly or names another site
  | "ERR_BAD_CERT" // a certificate that does not parse or lacks what edgefn needs in it
  | "ERR_BAD_KEY"; // a private key that does not parse or does not match its certificate

export class PkiError extends Error {
  readonly code: PkiErrorCode;
  readonly hint: string | undefined;
  constructor(code: PkiErrorCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "PkiError";
    this.code = code;
    this.hint = opts.hint;
  }
}

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const HOUR_MS = 3_600_000;

function check(what: string, value: unknown, re: RegExp, rule: string): string {
  if (typeof value !== "string" || !re.test(value)) {
    throw new PkiError("ERR_BAD_INPUT", `Invalid ${what} ${JSON.stringify(value)}: it must be ${rule}.`);
  }
  return value;
}
const checkSite = (site: unknown) => check("site", site, LABEL, "a DNS-1123 label (1-63 of a-z, 0-9, '-', starting and ending with a letter or digit)");
const checkNetwork = (network: unknown) => check("network id", network, NETWORK, "1-63 of a-z, 0-9 and '-'");
function checkTrust(trust: unknown): Trust {
  if (trust !== "trusted" && trust !== "untrusted") {
    throw new PkiError("ERR_BAD_INPUT", `Invalid trust ${JSON.stringify(trust)}: it must be "trusted" or "untrusted".`);
  }
  return trust;
}
function checkGrant(grant: unknown): string {
  if (typeof grant === "string" && grant.length > 255) throw new PkiError("ERR_BAD_INPUT", `Invalid grant: longer than 255 characters.`);
  return check("grant", grant, GRANT, "an address like fn/hello ('/'-separated segments of A-Z, a-z, 0-9, '.', '_', '~', '-')");
}

function nodeCert(pem: string, what: string): NodeCert {
  try {
    return new NodeCert(pem);
  } catch (cause) {
    throw new PkiError("ERR_BAD_CERT", `The ${what} is not a PEM X.509 certificate.`, { cause, hint: "Pass the whole -----BEGIN CERTIFICATE----- block." });
  }
}

function validity(now: Date, years: number): { notBefore: Date; notAfter: Date } {
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + years);
  return { notBefore: new Date(now.getTime() - HOUR_MS), notAfter };
}

async function newKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
}

function pkcs8Pem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: "pkcs8", format: "pem" }).toString();
}

/** Self-signed CA of one network: CN=edgefn network <network>, O=edgefn, valid ~10 years. */
export async function createNetworkCa(opts: { network: string; now?: Date }): Promise<KeyPair> {
  const network = checkNetwork(opts.network);
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString("hex"),
    name: `CN=edgefn network ${network}, O=edgefn`,
    ...validity(opts.now ?? new Date(), 10),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: `${URN}network:${network}` }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: pkcs8Pem(keys.privateKey) };
}

/** A new P-256 key and a PKCS#10 request with CN=<site>. */
export async function createKeyAndCsr(opts: { site: string }): Promise<{ keyPem: string; csrPem: string }> {
  const site = checkSite(opts.site);
  const keys = await newKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${site}`, keys, signingAlgorithm: SIGNING });
  return { keyPem: pkcs8Pem(keys.privateKey), csrPem: csr.toString("pem") };
}

async function parseCsr(csrPem: string, site: string): Promise<x509.Pkcs10CertificateRequest> {
  const fix = { hint: "Make a new request with createKeyAndCsr({ site }) (or `openssl req -new` with an EC P-256 key)." };
  let csr: x509.Pkcs10CertificateRequest;
  let valid: boolean;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
    valid = await csr.verify();
  } catch (cause) {
    throw new PkiError("ERR_BAD_CSR", "The certificate request is not a valid PEM PKCS#10 request.", { ...fix, cause });
  }
  if (!valid) throw new PkiError("ERR_BAD_CSR", "The certificate request's signature does not verify: it was altered or signed with another key.", fix);
  const cn = csr.subjectName.getField("CN");
  if (cn.length !== 1 || cn[0] !== site) {
    throw new PkiError("ERR_BAD_CSR", `The certificate request is for CN=${JSON.stringify(cn.join(","))}, not for site ${JSON.stringify(site)}.`, {
      hint: `Request the certificate with the site's own name as CN (CN=${site}).`,
    });
  }
  const alg = csr.publicKey.algorithm as Partial<EcKeyAlgorithm>;
  if (alg.name !== "ECDSA" || alg.namedCurve !== "P-256") {
    throw new PkiError("ERR_BAD_CSR", `The certificate request's key is ${[alg.name, alg.namedCurve].filter(Boolean).join(" ")}, not ECDSA P-256.`, fix);
  }
  return csr;
}

async function caSigningKey(ca: KeyPair, caCert: NodeCert): Promise<CryptoKey> {
  let key: KeyObject;
  try {
    key = createPrivateKey(ca.keyPem);
  } catch (cause) {
    throw new PkiError("ERR_BAD_KEY", "The CA key is not a PEM private key.", { cause, hint: "Pass the CA's keyPem as createNetworkCa returned it." });
  }
  const spki = (k: KeyObject) => k.export({ type: "spki", format: "der" });
  if (!spki(createPublicKey(key)).equals(spki(caCert.publicKey))) {
    throw new PkiError("ERR_BAD_KEY", "The CA key does not belong to the CA certificate.", { hint: "Pass the certPem and keyPem of the same createNetworkCa result." });
  }
  try {
    return await crypto.subtle.importKey("pkcs8", key.export({ type: "pkcs8", format: "der" }), EC, false, ["sign"]);
  } catch (cause) {
    throw new PkiError("ERR_BAD_KEY", "The CA key is not an ECDSA P-256 key.", { cause, hint: "Create the CA with createNetworkCa." });
  }
}

/** Signs a site's certificate (valid 2 years) from its CSR, which must be for CN=<site>. */
export async function issueSiteCert(opts: {
  ca: KeyPair;
  csrPem: string;
  site: string;
  trust: Trust;
  grants: readonly string[];
  now?: Date;
}): Promise<string> {
  const site = checkSite(opts.site);
  const trust = checkTrust(opts.trust);
  const grants = [...new Set(opts.grants.map(checkGrant))];
  const network = networkOfCa(opts.ca.certPem);
  const caCert = nodeCert(opts.ca.certPem, "CA certificate");
  const signingKey = await caSigningKey(opts.ca, caCert);
  const csr = await parseCsr(opts.csrPem, site);
  const ca = new x509.X509Certificate(opts.ca.certPem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(16).toString("hex"),
    subject: `CN=${site}, O=edgefn`,
    issuer: ca.subjectName,
    ...validity(opts.now ?? new Date(), 2),
    publicKey: csr.publicKey,
    signingKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: site },
        { type: "url", value: `${URN}site:${site}` },
        { type: "url", value: `${URN}trust:${trust}` },
        { type: "url", value: `${URN}network:${network}` },
        ...grants.map((g) => ({ type: "url" as const, value: `${URN}grant:${g}` })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.publicKey),
    ],
  });
  return cert.toString("pem");
}

/** Convenience: createKeyAndCsr + issueSiteCert (a CA issuing its own site's cert). */
export async function issueOwnCert(opts: { ca: KeyPair; site: string; trust: Trust; grants?: readonly string[] }): Promise<KeyPair> {
  const { keyPem, csrPem } = await createKeyAndCsr({ site: opts.site });
  const certPem = await issueSiteCert({ ca: opts.ca, csrPem, site: opts.site, trust: opts.trust, grants: opts.grants ?? [] });
  return { certPem, keyPem };
}

/** The `urn:edgefn:` URIs of a node subjectaltname string, as [kind, value] ("site", "edge-1"). */
/** Same, from a PEM certificate; throws PkiError ERR_BAD_CERT if it does not parse. */
export function identityOfCert(certPem: string): SiteIdentity | null {
  return identityFromAltNames(nodeCert(certPem, "certificate").subjectAltName);
}

/** The network id of a CA certificate (its urn:edgefn:network URI), or throws PkiError ERR_BAD_CERT. */
export function networkOfCa(caPem: string): string {
  const cert = nodeCert(caPem, "CA certificate");
  const hint = "Use the certificate createNetworkCa made for the network.";
  if (!cert.ca) throw new PkiError("ERR_BAD_CERT", `The certificate of ${cert.subject.replace(/\n/g, ", ")} is not a CA certificate.`, { hint });
  const networks = edgefnUris(cert.subjectAltName ?? "").filter(([k]) => k === "network");
  const network = networks[0]?.[1];
  if (networks.length !== 1 || network === undefined || !NETWORK.test(network)) {
    throw new PkiError("ERR_BAD_CERT", `The CA certificate has ${networks.length === 0 ? "no" : "no single valid"} ${URN}network:<id> SAN URI.`, { hint });
  }
  return network;
}

/** SHA-256 fingerprint "AA:BB:...". */
export function fingerprint(certPem: string): string {
  return nodeCert(certPem, "certificate").fingerprint256;
}

/** True when certPem was signed by caPem's key and is within its validity at `now`. */
export function issuedBy(certPem: string, caPem: string, now: Date = new Date()): boolean {
  const cert = nodeCert(certPem, "certificate");
  const ca = nodeCert(caPem, "CA certificate");
  return cert.checkIssued(ca) && cert.verify(ca.publicKey) && cert.validFromDate <= now && now <= cert.validToDate;
}
