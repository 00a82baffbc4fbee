import { X509Certificate } from "node:crypto";
import type { AddressInfo } from "node:net";
import * as tls from "node:tls";
import { describe, expect, it } from "vitest";
import {
  createKeyAndCsr,
  createNetworkCa,
  fingerprint,
  identityFromAltNames,
  identityOfCert,
  issuedBy,
  issueOwnCert,
  issueSiteCert,
  networkOfCa,
  PkiError,
  type KeyPair,
} from "./pki.ts";

// Imported after pki.ts, which installs the Reflect metadata shim @peculiar/x509 needs.
const x509 = await import("@peculiar/x509");

const HOUR = 3_600_000;
const NOW = new Date("2030-06-01T12:00:00Z");

async function rejection(p: Promise<unknown>): Promise<PkiError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PkiError);
  return err as PkiError;
}

function pem(der: Buffer, label: string): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

describe("certificates", () => {
  it("makes a network CA as specified", async () => {
    const ca = await createNetworkCa({ network: "net-1", now: NOW });
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe("CN=edgefn network net-1\nO=edgefn");
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.subjectAltName).toBe("URI:urn:edgefn:network:net-1");
    expect(cert.validFromDate).toEqual(new Date(NOW.getTime() - HOUR));
    expect(cert.validToDate).toEqual(new Date("2040-06-01T12:00:00Z"));
    expect(cert.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: "prime256v1" });
    expect(cert.checkPrivateKey((await import("node:crypto")).createPrivateKey(ca.keyPem))).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const parsed = new x509.X509Certificate(ca.certPem);
    expect(parsed.signatureAlgorithm).toMatchObject({ name: "ECDSA", hash: { name: "SHA-256" } });
    const bc = parsed.getExtension(x509.BasicConstraintsExtension);
    expect({ ca: bc?.ca, pathLength: bc?.pathLength, critical: bc?.critical }).toEqual({ ca: true, pathLength: 0, critical: true });
    expect(parsed.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(networkOfCa(ca.certPem)).toBe("net-1");
    expect(issuedBy(ca.certPem, ca.certPem, NOW)).toBe(true);
  });

  it("issues a site certificate as specified, and its identity round-trips", async () => {
    const ca = await createNetworkCa({ network: "net-1", now: NOW });
    const { keyPem, csrPem } = await createKeyAndCsr({ site: "edge-1" });
    const certPem = await issueSiteCert({ ca, csrPem, site: "edge-1", trust: "untrusted", grants: ["fn/hello", "fn/world"], now: NOW });
    const cert = new X509Certificate(certPem);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toBe("CN=edge-1\nO=edgefn");
    expect(cert.issuer).toBe("CN=edgefn network net-1\nO=edgefn");
    expect(cert.subjectAltName).toBe(
      "DNS:edge-1, URI:urn:edgefn:site:edge-1, URI:urn:edgefn:trust:untrusted, URI:urn:edgefn:network:net-1, " +
        "URI:urn:edgefn:grant:fn/hello, URI:urn:edgefn:grant:fn/world",
    );
    expect(cert.keyUsage?.sort()).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]); // node: extended key usage
    expect(cert.validFromDate).toEqual(new Date(NOW.getTime() - HOUR));
    expect(cert.validToDate).toEqual(new Date("2032-06-01T12:00:00Z"));
    expect(cert.checkPrivateKey((await import("node:crypto")).createPrivateKey(keyPem))).toBe(true);

    const parsed = new x509.X509Certificate(certPem);
    expect(parsed.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(parsed.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);

    expect(identityOfCert(certPem)).toEqual({ site: "edge-1", trust: "untrusted", grants: ["fn/hello", "fn/world"], network: "net-1" });
    const own = await issueOwnCert({ ca, site: "hub", trust: "trusted" });
    expect(identityOfCert(own.certPem)).toEqual({ site: "hub", trust: "trusted", grants: [], network: "net-1" });
    expect(new X509Certificate(own.certPem).serialNumber).not.toBe(cert.serialNumber);
  });

  it("issuedBy: true for its CA within validity, false for another CA or outside validity", async () => {
    const ca = await createNetworkCa({ network: "net-1", now: NOW });
    const other = await createNetworkCa({ network: "net-1", now: NOW }); // same name, other key
    const { certPem } = await issueOwnCert({ ca, site: "edge-1", trust: "trusted" });
    const now = new Date();
    expect(issuedBy(certPem, ca.certPem, now)).toBe(true);
    expect(issuedBy(certPem, other.certPem, now)).toBe(false);
    expect(issuedBy(certPem, ca.certPem, new Date(now.getTime() - 2 * HOUR))).toBe(false);
    expect(issuedBy(certPem, ca.certPem, new Date(now.getTime() + 3 * 365 * 24 * HOUR))).toBe(false);
  });

  it("fingerprint and networkOfCa", async () => {
    const ca = await createNetworkCa({ network: "n" });
    const site = await issueOwnCert({ ca, site: "a", trust: "trusted" });
    expect(fingerprint(ca.certPem)).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(fingerprint(ca.certPem)).toBe(new X509Certificate(ca.certPem).fingerprint256);
    expect(fingerprint(site.certPem)).not.toBe(fingerprint(ca.certPem));
    expect((await rejection(Promise.resolve().then(() => networkOfCa(site.certPem)))).code).toBe("ERR_BAD_CERT");
    expect((await rejection(Promise.resolve().then(() => fingerprint("not a cert")))).code).toBe("ERR_BAD_CERT");
  });

  it("refuses a CSR for another site, with a broken signature, or not a CSR at all", async () => {
    const ca = await createNetworkCa({ network: "net-1" });
    const other = await createKeyAndCsr({ site: "edge-2" });
    const wrongCn = await rejection(issueSiteCert({ ca, csrPem: other.csrPem, site: "edge-1", trust: "trusted", grants: [] }));
    expect(wrongCn.code).toBe("ERR_BAD_CSR");
    expect(wrongCn.message).toMatch(/edge-2.*edge-1/);
    expect(wrongCn.hint).toMatch(/CN=edge-1/);

    const { csrPem } = await createKeyAndCsr({ site: "edge-1" });
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    der[der.length - 1]! ^= 0x01; // last byte of the signature's s: still well-formed DER
    const tampered = await rejection(issueSiteCert({ ca, csrPem: pem(der, "CERTIFICATE REQUEST"), site: "edge-1", trust: "trusted", grants: [] }));
    expect(tampered.code).toBe("ERR_BAD_CSR");
    expect(tampered.message).toMatch(/signature/);
    // The untampered request is fine.
    await issueSiteCert({ ca, csrPem, site: "edge-1", trust: "trusted", grants: [] });

    expect((await rejection(issueSiteCert({ ca, csrPem: "garbage", site: "edge-1", trust: "trusted", grants: [] }))).code).toBe("ERR_BAD_CSR");
  });

  it("validates inputs and the CA key", async () => {
    const ca = await createNetworkCa({ network: "net-1" });
    const { csrPem } = await createKeyAndCsr({ site: "edge-1" });
    const base = { ca, csrPem, site: "edge-1", trust: "trusted" as const, grants: [] as string[] };
    expect((await rejection(createNetworkCa({ network: "Net_1" }))).code).toBe("ERR_BAD_INPUT");
    expect((await rejection(createKeyAndCsr({ site: "-edge" }))).code).toBe("ERR_BAD_INPUT");
    expect((await rejection(issueSiteCert({ ...base, trust: "root" as never }))).code).toBe("ERR_BAD_INPUT");
    expect((await rejection(issueSiteCert({ ...base, grants: ["fn/a b"] }))).code).toBe("ERR_BAD_INPUT");
    const other = await createNetworkCa({ network: "net-2" });
    const mismatch = await rejection(issueSiteCert({ ...base, ca: { certPem: ca.certPem, keyPem: other.keyPem } }));
    expect(mismatch.code).toBe("ERR_BAD_KEY");
    const notCa = await issueOwnCert({ ca, site: "x", trust: "trusted" });
    expect((await rejection(issueSiteCert({ ...base, ca: notCa }))).code).toBe("ERR_BAD_CERT");
  });
});

describe("identityFromAltNames", () => {
  it("reads site, trust, grants and network", () => {
    expect(identityFromAltNames("DNS:edge-1, URI:urn:edgefn:site:edge-1, URI:urn:edgefn:trust:trusted, URI:urn:edgefn:grant:fn/hello")).toEqual({
      site: "edge-1",
      trust: "trusted",
      grants: ["fn/hello"],
      network: null,
    });
  });

  it("is null without a site, without a known trust, or when ambiguous", () => {
    expect(identityFromAltNames(undefined)).toBeNull();
    expect(identityFromAltNames("")).toBeNull();
    expect(identityFromAltNames("DNS:edge-1, URI:urn:edgefn:trust:trusted")).toBeNull();
    expect(identityFromAltNames("URI:urn:edgefn:site:edge-1")).toBeNull();
    expect(identityFromAltNames("URI:urn:edgefn:site:edge-1, URI:urn:edgefn:trust:root")).toBeNull();
    expect(identityFromAltNames("URI:urn:edgefn:site:a, URI:urn:edgefn:site:b, URI:urn:edgefn:trust:trusted")).toBeNull();
    expect(identityFromAltNames("URI:urn:edgefn:site:a, URI:urn:edgefn:trust:untrusted, URI:urn:edgefn:trust:trusted")).toBeNull();
    expect(identityFromAltNames('URI:"urn:edgefn:site:a,b", URI:urn:edgefn:trust:trusted')).toBeNull();
  });
});

interface Outcome {
  /** What the client received from the server ("hello" once the server accepted it). */
  data: string;
  clientSaw: string | undefined;
  clientError: Error | undefined;
  serverSaw: string | undefined;
  serverError: Error | undefined;
  /** Why the server refused the client's certificate (node's verify error code), if it did. */
  serverAuthError: string | undefined;
}

/** One mutual-TLS connection on 127.0.0.1; every wait bounded, the server closed in the end. */
async function handshake(server: KeyPair & { ca: string }, client: Partial<KeyPair> & { ca: string; expectSite: string }): Promise<Outcome> {
  const out: Outcome = { data: "", clientSaw: undefined, clientError: undefined, serverSaw: undefined, serverError: undefined, serverAuthError: undefined };
  const srv = tls.createServer({ requestCert: true, rejectUnauthorized: true, ca: server.ca, cert: server.certPem, key: server.keyPem });
  const sockets = new Set<import("node:net").Socket>();
  srv.on("connection", (s) => sockets.add(s));
  const serverDone = new Promise<void>((resolve) => {
    srv.on("secureConnection", (s) => {
      out.serverSaw = s.getPeerCertificate().subjectaltname;
      s.end("hello");
      resolve();
    });
    srv.on("tlsClientError", (err, s) => {
      out.serverError = err;
      out.serverAuthError = s.authorizationError?.toString();
      resolve();
    });
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => srv.once("error", reject).listen(0, "127.0.0.1", resolve));
    const clientDone = new Promise<void>((resolve) => {
      const sock = tls.connect({
        host: "127.0.0.1",
        port: (srv.address() as AddressInfo).port,
        ca: client.ca,
        ...(client.certPem !== undefined && client.keyPem !== undefined ? { cert: client.certPem, key: client.keyPem } : {}),
        checkServerIdentity: (_host, cert) => {
          const site = identityFromAltNames(cert.subjectaltname)?.site;
          return site === client.expectSite ? undefined : new Error(`server is ${site ?? "not an edgefn site"}, expected ${client.expectSite}`);
        },
      });
      sockets.add(sock);
      sock.on("secureConnect", () => (out.clientSaw = sock.getPeerCertificate().subjectaltname));
      sock.on("data", (d: Buffer) => (out.data += d.toString()));
      sock.on("error", (err) => (out.clientError = err));
      sock.on("close", () => resolve());
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("handshake test timed out")), 5_000);
    });
    await Promise.race([Promise.all([serverDone, clientDone]), timeout]);
    return out;
  } finally {
    clearTimeout(timer);
    for (const s of sockets) s.destroy();
    srv.close();
  }
}

describe("mutual TLS", () => {
  it("connects two sites of one network, each seeing the other's identity; refuses strangers", async () => {
    const ca = await createNetworkCa({ network: "net-1" });
    const server = { ...(await issueOwnCert({ ca, site: "edge-1", trust: "trusted" })), ca: ca.certPem };
    const client = await issueOwnCert({ ca, site: "edge-2", trust: "untrusted", grants: ["fn/hello"] });

    const ok = await handshake(server, { ...client, ca: ca.certPem, expectSite: "edge-1" });
    expect(ok.clientError).toBeUndefined();
    expect(ok.serverError).toBeUndefined();
    expect(ok.data).toBe("hello");
    expect(identityFromAltNames(ok.serverSaw)).toEqual({ site: "edge-2", trust: "untrusted", grants: ["fn/hello"], network: "net-1" });
    expect(identityFromAltNames(ok.clientSaw)).toEqual({ site: "edge-1", trust: "trusted", grants: [], network: "net-1" });

    // A client whose certificate another network's CA signed (it trusts our CA all the same).
    const otherCa = await createNetworkCa({ network: "net-2" });
    const stranger = await issueOwnCert({ ca: otherCa, site: "edge-2", trust: "trusted" });
    const foreign = await handshake(server, { ...stranger, ca: ca.certPem, expectSite: "edge-1" });
    expect(foreign.serverError).toBeDefined();
    expect(foreign.serverAuthError).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE") // no CA it trusts signed it;
    expect(foreign.serverSaw).toBeUndefined();
    expect(foreign.data).toBe("");

    // A client without a certificate.
    const anonymous = await handshake(server, { ca: ca.certPem, expectSite: "edge-1" });
    expect(anonymous.serverError?.message).toMatch(/peer did not return a certificate/);
    expect(anonymous.serverSaw).toBeUndefined();
    expect(anonymous.data).toBe("");

    // The server is a genuine site of the network, but not the one the client meant to reach.
    const wrong = await handshake(server, { ...client, ca: ca.certPem, expectSite: "edge-9" });
    expect(wrong.clientError?.message).toBe("server is edge-1, expected edge-9");
    expect(wrong.data).toBe("");
    expect(wrong.serverAuthError).toBeUndefined(); // the server had nothing against the client
  });
});
