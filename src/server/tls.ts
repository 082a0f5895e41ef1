import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import * as der from "./der.js";
import { errnoCode, StartupError } from "./errors.js";
import { writeFileAtomic } from "./fs-util.js";

/** The API's TLS identity (api.md §1.1, server.md §2.3). */
export interface TlsIdentity {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the certificate (DER), 64 lowercase hex characters */
  fingerprint: string;
  /** microseconds since the epoch */
  expiryTime: number;
}

const TEN_YEARS_MS = 3652 * 24 * 3600 * 1000;
const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  serverAuth: "1.3.6.1.5.5.7.3.1",
};

function ipBytes(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from(address.split(".").map(Number));
  // only the fixed "::1" is used here
  const bytes = Buffer.alloc(16);
  bytes[15] = 1;
  return bytes;
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(
    der.objectIdentifier(oid),
    ...(critical ? [der.booleanValue(true)] : []),
    der.octetString(value),
  );
}

/** A new self-signed ECDSA P-256 certificate valid for 10 years, made with Node's crypto only. */
export function createSelfSignedCertificate(
  commonName: string,
  now: Date = new Date(),
): { certPem: string; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const name = der.sequence(
    der.set(der.sequence(der.objectIdentifier(OID.commonName), der.utf8String(commonName))),
  );
  const algorithm = der.sequence(der.objectIdentifier(OID.ecdsaWithSha256));
  const dnsNames = [...new Set(["localhost", hostname()])];
  const altNames = der.sequence(
    ...dnsNames.map((dns) => der.implicitPrimitive(2, Buffer.from(dns, "ascii"))),
    der.implicitPrimitive(7, ipBytes("127.0.0.1")),
    der.implicitPrimitive(7, ipBytes("::1")),
  );
  const extensions = der.sequence(
    extension(OID.basicConstraints, true, der.sequence()),
    extension(OID.keyUsage, true, der.bitString(Buffer.from([0x80]), 7)), // digitalSignature
    extension(OID.extKeyUsage, false, der.sequence(der.objectIdentifier(OID.serverAuth))),
    extension(OID.subjectAltName, false, altNames),
  );
  const notBefore = new Date(now.getTime() - 60_000);
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)),
    der.unsignedInteger(serial),
    algorithm,
    name,
    der.sequence(der.x509Time(notBefore), der.x509Time(new Date(now.getTime() + TEN_YEARS_MS))),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    der.explicit(3, extensions),
  );
  const signature = sign("sha256", tbs, { key: privateKey, dsaEncoding: "der" });
  const certDer = der.sequence(tbs, algorithm, der.bitString(signature));
  const certPem = `-----BEGIN CERTIFICATE-----\n${certDer
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trimEnd()}\n-----END CERTIFICATE-----\n`;
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return { certPem, keyPem };
}

export function certificateFingerprint(certDer: Buffer): string {
  return createHash("sha256").update(certDer).digest("hex");
}

function identityOf(certPem: string, keyPem: string, source: string): TlsIdentity {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (error) {
    throw new StartupError(`${source}: not a valid PEM certificate (${String(error)})`);
  }
  return {
    certPem,
    keyPem,
    fingerprint: certificateFingerprint(cert.raw),
    expiryTime: Date.parse(cert.validTo) * 1000,
  };
}

/**
 * The API certificate: `certFile`/`keyFile` when given, else `<state-dir>/tls/cert.pem` and
 * `key.pem`, created on first start (or replaced when `renew`).
 */
export function loadTlsIdentity(
  stateDir: string,
  opts: { certFile?: string | null; keyFile?: string | null; renew?: boolean } = {},
): TlsIdentity {
  if (opts.certFile && opts.keyFile) {
    try {
      return identityOf(
        readFileSync(opts.certFile, "utf8"),
        readFileSync(opts.keyFile, "utf8"),
        opts.certFile,
      );
    } catch (error) {
      if (error instanceof StartupError) throw error;
      throw new StartupError(`cannot read --api-cert/--api-key: ${String(error)}`, 2);
    }
  }
  const dir = join(stateDir, "tls");
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  if (!opts.renew) {
    try {
      return identityOf(readFileSync(certPath, "utf8"), readFileSync(keyPath, "utf8"), certPath);
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") throw error;
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { certPem, keyPem } = createSelfSignedCertificate("slipstream");
  writeFileAtomic(keyPath, keyPem, 0o600);
  writeFileAtomic(certPath, certPem, 0o644);
  return identityOf(certPem, keyPem, certPath);
}
