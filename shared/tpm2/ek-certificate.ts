import 'reflect-metadata';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  X509Certificate,
} from '@peculiar/x509';
import { toHex } from '../encoding/bytes.ts';
import { TPM_ALG, TPMA_OBJECT } from './constants.ts';
import type { BundledCertificate } from './ek-roots/bundle.ts';
import { EK_INTERMEDIATES, EK_ROOTS } from './ek-roots/bundle.ts';
import { TpmError } from './errors.ts';
import type { TpmtPublic } from './structures/public.ts';
import { eccCurve, padToField } from './structures/public.ts';

/**
 * EK certificate verification (TCG EK Credential Profile 2.x; ATTESTATION.md §3.10): is this certificate
 * issued by a TPM manufacturer we trust, valid now, and for exactly the EK public area the node showed?
 *
 * Path validation is our own (RFC 5280 §6 reduced to what EK chains need), on top of @peculiar/x509
 * for parsing and signature checks. @peculiar/x509 verifies over the raw TBS bytes, never a re-encoding,
 * which is what lets Nuvoton certificates with non-DER-sorted multi-valued RDNs pass (keylime #944).
 *
 * Decisions, and why:
 * - Unknown critical extensions are NOT rejected. The EK profile makes the SubjectAltName (a
 *   directoryName with TPM manufacturer/model/version attributes) critical while the subject is empty,
 *   and generic validators reject it for that (go-tpm-tools strips it before verifying). We interpret
 *   basicConstraints, keyUsage and extendedKeyUsage, which are the extensions that limit authority.
 * - SHA-1 signatures are accepted (and reported in `sha1Signature`). Older TPMs carry SHA-1-signed EK
 *   certificates that cannot be re-issued. Forging one needs a chosen-prefix collision on a TBS the
 *   manufacturer CA signs, and the CA signs only its own factory-generated EK data, so the known SHA-1
 *   attacks do not apply; callers that disagree can refuse on the flag.
 * - Trust anchors need not be self-signed: three "roots" of the tpm-ca-certificates bundle are
 *   intermediates whose own issuer is not published, so an anchor ends the path wherever it is met
 *   (OpenSSL's "partial chain"). Anchors are still checked for validity at `now`.
 * - Intermediates must be CAs (basicConstraints cA, keyCertSign when keyUsage is present, pathLen
 *   respected) and valid at `now`; the leaf must be valid and, if it has an extendedKeyUsage, list
 *   tcg-kp-EKCertificate (2.23.133.8.1).
 */

/** tcg-kp-EKCertificate (EK Credential Profile §3.2.16) and anyExtendedKeyUsage (RFC 5280 §4.2.1.12). */
const EKU_EK_CERTIFICATE = '2.23.133.8.1';
const EKU_ANY = '2.5.29.37.0';
/** EK chains are short (leaf, at most a couple of intermediates, anchor); this bounds the search. */
const MAX_PATH_CAS = 6;

/**
 * One CA certificate of a trust store: its subject (the path-building index key) and its DER. Parsed
 * only when a path reaches it, so the ~175-certificate default bundle costs nothing until used.
 */
export interface StoredCertificate {
  readonly subject: string;
  readonly der: Uint8Array;
}

/** A set of trust anchors plus intermediates used only to build paths (never trusted on their own). */
export interface TrustStore {
  readonly anchors: readonly StoredCertificate[];
  readonly intermediates: readonly StoredCertificate[];
}

export interface VerifyEkCertificateInput {
  /** The certificate as read from NV: DER, possibly with a TCG NV header and/or 0x00/0xFF padding. */
  certificate: Uint8Array;
  /** The EK public area the node presented; when given it must be the key the certificate certifies. */
  ekPublic?: TpmtPublic;
  trustAnchors: TrustStore;
  /** Defaults to the current time. */
  now?: Date;
}

export interface EkCertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 fingerprints (lowercase hex) of the path: the EK certificate first, the trust anchor last. */
  chainFingerprints: string[];
  /** Subject of the trust anchor that ended the path. */
  anchorSubject: string;
  /** Whether any signature on the path uses SHA-1 (accepted; see the module notes). */
  sha1Signature: boolean;
  /** The exact DER that was verified (header and padding removed). */
  der: Uint8Array;
}

function untrusted(message: string): TpmError {
  return new TpmError('EK_CERT_UNTRUSTED', message);
}

/** The DER definite length at `b[1..]`: [content length, header length], or undefined if not DER. */
function derLength(b: Uint8Array): [number, number] | undefined {
  const first = b[1];
  if (first === undefined) return undefined;
  if (first < 0x80) return [first, 2];
  const n = first & 0x7f;
  if (n === 0 || n > 3 || b.length < 2 + n) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (b[2 + i] ?? 0);
  return [len, 2 + n];
}

/**
 * The certificate DER inside an NV blob. Some TPMs store `0x10 0x01 0x00 ‖ u16 length ‖ cert` (PC Client
 * Platform TPM Profile §7.3.2 header; go-attestation `ParseEKCertificate`), and NV indices are often
 * larger than the certificate, leaving 0x00 or 0xFF fill after it (HIRS #23). The outer SEQUENCE's own
 * DER length says where the certificate ends; anything after it other than fill is rejected.
 */
export function extractCertificateDer(blob: Uint8Array): Uint8Array {
  let b = blob;
  if (b.length >= 5 && b[0] === 0x10 && b[1] === 0x01 && b[2] === 0x00) {
    const len = ((b[3] ?? 0) << 8) | (b[4] ?? 0);
    if (5 + len > b.length)
      throw new TpmError('MALFORMED_STRUCTURE', 'EK certificate: NV header length runs past the data');
    b = b.subarray(5, 5 + len);
  }
  if (b[0] !== 0x30) throw new TpmError('MALFORMED_STRUCTURE', 'EK certificate: not a DER SEQUENCE');
  const len = derLength(b);
  if (!len || len[0] + len[1] > b.length) {
    throw new TpmError('MALFORMED_STRUCTURE', 'EK certificate: DER length is invalid or runs past the data');
  }
  const end = len[0] + len[1];
  for (let i = end; i < b.length; i++) {
    if (b[i] !== 0x00 && b[i] !== 0xff) {
      throw new TpmError(
        'MALFORMED_STRUCTURE',
        `EK certificate: unexpected byte 0x${(b[i] ?? 0).toString(16)} after the DER`,
      );
    }
  }
  return b.slice(0, end);
}

function parseCertificate(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(der as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new TpmError(
      'MALFORMED_STRUCTURE',
      `${what}: not an X.509 certificate (${e instanceof Error ? e.message : String(e)})`,
    );
  }
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

const parsed = new WeakMap<StoredCertificate, X509Certificate>();

/** The parsed form of a stored certificate, parsed once on first use. */
function certificateOf(entry: StoredCertificate, what = 'trust store'): X509Certificate {
  let cert = parsed.get(entry);
  if (!cert) {
    cert = parseCertificate(entry.der, `${what} certificate "${entry.subject}"`);
    parsed.set(entry, cert);
  }
  return cert;
}

function derFromPemBody(body: string, what: string): Uint8Array {
  try {
    return Uint8Array.from(atob(body.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
  } catch {
    throw new TpmError('MALFORMED_STRUCTURE', `${what}: not valid base64`);
  }
}

/** Every CERTIFICATE block of a PEM text, parsed now (comments and text between blocks are ignored). */
function certificatesFromPem(pem: string, what: string): StoredCertificate[] {
  const out: StoredCertificate[] = [];
  for (const m of pem.matchAll(PEM_BLOCK)) {
    const label = `${what} certificate ${out.length + 1}`;
    const der = derFromPemBody(m[1] ?? '', label);
    const cert = parseCertificate(der, label);
    const entry: StoredCertificate = { subject: cert.subject, der };
    parsed.set(entry, cert);
    out.push(entry);
  }
  return out;
}

/**
 * A bundled certificate whose subject was precomputed by scripts/generate-ek-roots.ts; its DER is
 * decoded and parsed only when a path reaches it.
 */
function lazyEntry(b: BundledCertificate): StoredCertificate {
  let der: Uint8Array | undefined;
  return {
    subject: b.subject,
    get der(): Uint8Array {
      der ??= derFromPemBody(b.pem.replace(/-----[A-Z ]+-----/g, ''), `bundled certificate "${b.label}"`);
      return der;
    },
  };
}

/**
 * A trust store from PEM bundles: `roots` are the trust anchors, `intermediates` only help build paths.
 *
 * @example
 * const store = trustStoreFromPem(readFileSync('swtpm-localca-rootca.pem', 'utf8'));
 */
export function trustStoreFromPem(roots: string, intermediates = ''): TrustStore {
  return {
    anchors: certificatesFromPem(roots, 'trust anchors'),
    intermediates: certificatesFromPem(intermediates, 'intermediates'),
  };
}

/** A new store with more anchors (and intermediates), e.g. the default bundle plus a swtpm local CA. */
export function addAnchors(store: TrustStore, roots: string, intermediates = ''): TrustStore {
  const more = trustStoreFromPem(roots, intermediates);
  return {
    anchors: [...store.anchors, ...more.anchors],
    intermediates: [...store.intermediates, ...more.intermediates],
  };
}

let defaultStore: TrustStore | undefined;

/**
 * The TPM manufacturers' EK roots and intermediates (tpm-ca-certificates, plus Google Cloud's vTPM EK
 * CAs). Certificates are parsed only when a path reaches them. See ek-roots/README.md for sources and
 * how to refresh.
 */
export function defaultTrustStore(): TrustStore {
  defaultStore ??= { anchors: EK_ROOTS.map(lazyEntry), intermediates: EK_INTERMEDIATES.map(lazyEntry) };
  return defaultStore;
}

/** Per-store index by subject, so path building does not scan ~175 certificates per step. */
const indexes = new WeakMap<
  TrustStore,
  { anchors: Map<string, StoredCertificate[]>; intermediates: Map<string, StoredCertificate[]> }
>();

function bySubject(certs: readonly StoredCertificate[]): Map<string, StoredCertificate[]> {
  const m = new Map<string, StoredCertificate[]>();
  for (const c of certs) m.set(c.subject, [...(m.get(c.subject) ?? []), c]);
  return m;
}

function indexOf(store: TrustStore) {
  let idx = indexes.get(store);
  if (!idx) {
    idx = { anchors: bySubject(store.anchors), intermediates: bySubject(store.intermediates) };
    indexes.set(store, idx);
  }
  return idx;
}

function validAt(cert: X509Certificate, now: Date): boolean {
  return cert.notBefore.getTime() <= now.getTime() && now.getTime() <= cert.notAfter.getTime();
}

/**
 * Signature results between store certificates (intermediate ← anchor), remembered per parsed pair:
 * both are immutable and parsed once per store entry, so only the EK certificate's own signature is
 * checked on every call. A fresh leaf object never hits the cache.
 */
const signatureResults = new WeakMap<X509Certificate, WeakMap<X509Certificate, boolean>>();

async function signedBy(cert: X509Certificate, issuer: X509Certificate): Promise<boolean> {
  const known = signatureResults.get(cert)?.get(issuer);
  if (known !== undefined) return known;
  let ok: boolean;
  try {
    ok = await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    // An algorithm WebCrypto lacks, or a key that does not fit the signature: not this issuer.
    ok = false;
  }
  let byIssuer = signatureResults.get(cert);
  if (!byIssuer) {
    byIssuer = new WeakMap();
    signatureResults.set(cert, byIssuer);
  }
  byIssuer.set(issuer, ok);
  return ok;
}

/** Why a CA certificate may not issue here, or undefined if it may. `below` = CAs between it and the leaf. */
function caProblem(ca: X509Certificate, below: number, now: Date, isAnchor: boolean): string | undefined {
  if (!validAt(ca, now)) return `${ca.subject} is not valid at ${now.toISOString()}`;
  const bc = ca.getExtension(BasicConstraintsExtension);
  if (!isAnchor) {
    if (!bc?.ca) return `${ca.subject} is not a CA (basicConstraints)`;
    const ku = ca.getExtension(KeyUsagesExtension);
    if (ku && (ku.usages & KeyUsageFlags.keyCertSign) === 0)
      return `${ca.subject} may not sign certificates (keyUsage)`;
  }
  if (bc?.pathLength !== undefined && below > bc.pathLength) {
    return `${ca.subject} allows ${bc.pathLength} intermediate CAs below it, found ${below}`;
  }
  return undefined;
}

/**
 * Depth-first search for a path from `cert` to an anchor. Returns the issuers (nearest first, the anchor
 * last), or undefined; `problems` collects why candidates were refused, for the error message.
 */
async function findPath(
  cert: X509Certificate,
  store: TrustStore,
  now: Date,
  below: number,
  seen: Set<X509Certificate>,
  problems: string[],
): Promise<X509Certificate[] | undefined> {
  if (below >= MAX_PATH_CAS) {
    problems.push(`path longer than ${MAX_PATH_CAS} CAs`);
    return undefined;
  }
  const idx = indexOf(store);
  const candidates: [X509Certificate, boolean][] = [
    ...(idx.anchors.get(cert.issuer) ?? []).map((c): [X509Certificate, boolean] => [certificateOf(c), true]),
    ...(idx.intermediates.get(cert.issuer) ?? []).map((c): [X509Certificate, boolean] => [
      certificateOf(c),
      false,
    ]),
  ];
  if (candidates.length === 0) problems.push(`no known issuer "${cert.issuer}"`);
  for (const [candidate, isAnchor] of candidates) {
    if (seen.has(candidate)) continue;
    if (!(await signedBy(cert, candidate))) {
      problems.push(`signature on "${cert.subject}" does not verify with "${candidate.subject}"`);
      continue;
    }
    const problem = caProblem(candidate, below, now, isAnchor);
    if (problem) {
      problems.push(problem);
      continue;
    }
    if (isAnchor) return [candidate];
    const rest = await findPath(candidate, store, now, below + 1, new Set([...seen, candidate]), problems);
    if (rest) return [candidate, ...rest];
  }
  return undefined;
}

function signatureHash(cert: X509Certificate): string | undefined {
  return (cert.signatureAlgorithm as { hash?: { name?: string } }).hash?.name;
}

async function fingerprint(cert: X509Certificate): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', cert.rawData)));
}

function fromBase64Url(s: string | undefined): Uint8Array {
  const b64 = (s ?? '').replaceAll('-', '+').replaceAll('_', '/');
  return Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

function stripLeadingZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The certificate's public key as a JWK (RSA n/e or EC crv/x/y), via WebCrypto's SPKI import. */
/** The JWK members compared below (RFC 7518 §6.2.1, §6.3.1). */
interface KeyJwk {
  kty?: string;
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
}

async function certificateJwk(cert: X509Certificate): Promise<KeyJwk> {
  const alg = cert.publicKey.algorithm as { name: string; namedCurve?: string };
  const spki = cert.publicKey.rawData;
  try {
    if (alg.name === 'ECDSA' || alg.name === 'ECDH') {
      const key = await crypto.subtle.importKey(
        'spki',
        spki,
        { name: 'ECDH', namedCurve: alg.namedCurve ?? '' },
        true,
        [],
      );
      return (await crypto.subtle.exportKey('jwk', key)) as KeyJwk;
    }
    if (alg.name === 'RSASSA-PKCS1-v1_5' || alg.name === 'RSA-OAEP' || alg.name === 'RSA-PSS') {
      const key = await crypto.subtle.importKey('spki', spki, { name: 'RSA-OAEP', hash: 'SHA-256' }, true, [
        'encrypt',
      ]);
      return (await crypto.subtle.exportKey('jwk', key)) as KeyJwk;
    }
  } catch (e) {
    throw new TpmError(
      'MALFORMED_STRUCTURE',
      `EK certificate key: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  throw new TpmError(
    'UNSUPPORTED_ALGORITHM',
    `EK certificate key algorithm ${alg.name} is neither RSA nor EC`,
  );
}

/**
 * The certificate must certify exactly this EK: same RSA modulus and exponent, or same curve and point.
 * The public area must also be what an EK is (a restricted decryption key, as every TCG EK template
 * makes): otherwise a certificate whose key was created for signing — e.g. a cloud AK certificate
 * under the same CA — could be presented together with that key as if it were an EK.
 */
async function checkEkMatches(cert: X509Certificate, ek: TpmtPublic): Promise<void> {
  const needed = TPMA_OBJECT.restricted | TPMA_OBJECT.decrypt;
  if ((ek.objectAttributes & needed) !== needed || (ek.objectAttributes & TPMA_OBJECT.sign) !== 0) {
    throw new TpmError('EK_MISMATCH', 'the EK public area is not a restricted decryption key');
  }
  const jwk = await certificateJwk(cert);
  if (ek.type === TPM_ALG.RSA) {
    if (jwk.kty !== 'RSA') throw new TpmError('EK_MISMATCH', 'EK is RSA but the certificate key is not');
    const e = ek.exponent === 0 ? 65537 : ek.exponent;
    const certE = fromBase64Url(jwk.e).reduce((v, x) => v * 256 + x, 0);
    if (!sameBytes(stripLeadingZeros(fromBase64Url(jwk.n)), stripLeadingZeros(ek.modulus)) || certE !== e) {
      throw new TpmError('EK_MISMATCH', 'the certificate certifies a different RSA key than the EK');
    }
    return;
  }
  if (jwk.kty !== 'EC') throw new TpmError('EK_MISMATCH', 'EK is ECC but the certificate key is not');
  const { namedCurve, size } = eccCurve(ek);
  if (jwk.crv !== namedCurve)
    throw new TpmError('EK_MISMATCH', `EK is on ${namedCurve}, the certificate key on ${jwk.crv}`);
  const x = padToField(ek.x, size, 'EK unique.x');
  const y = padToField(ek.y, size, 'EK unique.y');
  if (!sameBytes(fromBase64Url(jwk.x), x) || !sameBytes(fromBase64Url(jwk.y), y)) {
    throw new TpmError('EK_MISMATCH', 'the certificate certifies a different ECC point than the EK');
  }
}

/**
 * Verifies an EK certificate against trust anchors and, when given, binds it to the EK public area.
 * Throws TpmError: MALFORMED_STRUCTURE (not a certificate), EK_CERT_UNTRUSTED (no valid path to an
 * anchor, expired, wrong extended key usage), EK_MISMATCH (certificate is for another key).
 *
 * @example
 * const info = await verifyEkCertificate({ certificate: nvBytes, ekPublic, trustAnchors: defaultTrustStore() });
 */
export async function verifyEkCertificate(input: VerifyEkCertificateInput): Promise<EkCertificateInfo> {
  try {
    return await verifyEkCertificateUnguarded(input);
  } catch (e) {
    if (e instanceof TpmError) throw e;
    // @peculiar/x509 decodes some extensions lazily; a malformed one surfaces here, not at parse time.
    throw new TpmError(
      'MALFORMED_STRUCTURE',
      `EK certificate: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

async function verifyEkCertificateUnguarded(input: VerifyEkCertificateInput): Promise<EkCertificateInfo> {
  const { ekPublic, trustAnchors, now = new Date() } = input;
  const der = extractCertificateDer(input.certificate);
  const leaf = parseCertificate(der, 'EK certificate');

  if (!validAt(leaf, now)) {
    throw untrusted(
      `EK certificate is valid ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()}, not at ${now.toISOString()}`,
    );
  }
  const eku = leaf.getExtension(ExtendedKeyUsageExtension);
  if (eku && !eku.usages.some((u) => u === EKU_EK_CERTIFICATE || u === EKU_ANY)) {
    throw untrusted('EK certificate extendedKeyUsage does not include tcg-kp-EKCertificate (2.23.133.8.1)');
  }

  let path: X509Certificate[] | undefined;
  const leafPrint = await fingerprint(leaf);
  // An anchor may be the EK certificate itself (a pinned device): then the path is just the leaf.
  const pinned = trustAnchors.anchors.find((a) => a.subject === leaf.subject && sameBytes(a.der, der));
  if (pinned) {
    path = [];
  } else {
    const problems: string[] = [];
    path = await findPath(leaf, trustAnchors, now, 0, new Set(), problems);
    if (!path)
      throw untrusted(
        `EK certificate does not chain to a trust anchor: ${[...new Set(problems)].join('; ')}`,
      );
  }

  if (ekPublic) await checkEkMatches(leaf, ekPublic);

  const chain = [leaf, ...path];
  const anchor = chain[chain.length - 1] ?? leaf;
  return {
    subject: leaf.subject,
    issuer: leaf.issuer,
    serialNumber: leaf.serialNumber,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    chainFingerprints: [leafPrint, ...(await Promise.all(path.map(fingerprint)))],
    anchorSubject: anchor.subject,
    sha1Signature: chain.some((c, i) => i < chain.length - 1 && signatureHash(c) === 'SHA-1'),
    der,
  };
}
