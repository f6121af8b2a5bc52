import { toHex, utf8 } from '../../encoding/bytes.ts';
import { TpmError } from '../errors.ts';
import { type CertificateFact, certificateFact, looksLikeDer } from './certificate.ts';
import { digestCommitsTo } from './digest-commitment.ts';
import { EFI_GUID } from './efi-guid.ts';
import { parseEfiSignatureLists } from './efi-signature-list.ts';
import { type EfiVariable, parseEfiVariable } from './efi-variable.ts';
import { EV } from './event-types.ts';
import type { AuthenticatedEvent } from './replay.ts';

/**
 * Secure Boot state from PCR 7 (ATTESTATION.md §3.12, go-attestation `ParseSecurebootState`). Every
 * fact here is AUTHENTICATED: it comes from an event of a replayed PCR 7 whose digest was checked to be
 * the hash of the very data read (UEFI_VARIABLE_DATA for variables and authorities). PCR 7 is held to
 * the firmware profile's shape; anything else there means the log cannot be read safely and is rejected
 * (`EVENT_LOG_INVALID` with `details.check`), because a lenient reader is what a forged log targets.
 */

export interface SignatureDatabase {
  /** X.509 entries (EFI_CERT_X509_GUID). */
  certificates: CertificateFact[];
  /** SHA-256 entries (EFI_CERT_SHA256_GUID), lowercase hex: image hashes allowed (db) or revoked (dbx). */
  sha256: string[];
  /** Entries of other signature types, by type GUID, with the SHA-256 of their data. */
  other: { type: string; dataSha256: string }[];
}

export interface AuthorityFact {
  /** The variable the firmware (or shim) says the authority came from: `db`, `MokList`, `Shim`, `SbatLevel`, … */
  variable: string;
  guid: string;
  sequence: number;
  /** Measured after the PCR 7 separator: an authority used for a boot application, not a firmware driver. */
  afterSeparator: boolean;
  /** The certificate that verified an image, when the authority is a certificate. */
  certificate: CertificateFact | undefined;
  /** SHA-256 of the authority's variable data (a db hash entry, SbatLevel text, …) when it is not a certificate. */
  dataSha256: string | undefined;
  /** 'shim-extra-byte': old shim logged one byte more than it measured (go-attestation #157). */
  quirk: 'shim-extra-byte' | undefined;
}

export interface SecureBootFacts {
  /** The SecureBoot variable is exactly one byte equal to 1. An empty variable (never set) means off. */
  enabled: boolean;
  pk: SignatureDatabase | undefined;
  kek: SignatureDatabase | undefined;
  db: SignatureDatabase | undefined;
  dbx: SignatureDatabase | undefined;
  authorities: AuthorityFact[];
  dmaProtectionDisabled: boolean;
}

function reject(check: string, e: AuthenticatedEvent | undefined, message: string): TpmError {
  return new TpmError(
    'EVENT_LOG_INVALID',
    `PCR 7${e ? ` event ${e.sequence}` : ''}: ${message}`,
    e ? { pcr: 7, sequence: e.sequence, check } : { pcr: 7, check },
  );
}

async function sha256Hex(b: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>)));
}

async function signatureDatabase(v: EfiVariable): Promise<SignatureDatabase> {
  const out: SignatureDatabase = { certificates: [], sha256: [], other: [] };
  for (const s of parseEfiSignatureLists(v.data)) {
    if (s.type === EFI_GUID.CERT_X509) out.certificates.push(await certificateFact(s.data));
    else if (s.type === EFI_GUID.CERT_SHA256 && s.data.length === 32) out.sha256.push(toHex(s.data));
    else out.other.push({ type: s.type, dataSha256: await sha256Hex(s.data) });
  }
  return out;
}

const DATABASES = {
  PK: EFI_GUID.GLOBAL_VARIABLE,
  KEK: EFI_GUID.GLOBAL_VARIABLE,
  db: EFI_GUID.IMAGE_SECURITY_DATABASE,
  dbx: EFI_GUID.IMAGE_SECURITY_DATABASE,
} as const;

async function authority(e: AuthenticatedEvent, afterSeparator: boolean): Promise<AuthorityFact> {
  let data = e.data;
  let quirk: AuthorityFact['quirk'];
  if (!(await digestCommitsTo(e, data))) {
    // Shim before rhboot/shim 8a27a48 logged one byte more than it hashed (go-attestation #157).
    const shorter = data.subarray(0, data.length - 1);
    if (data.length === 0 || !(await digestCommitsTo(e, shorter))) {
      throw reject('authority-digest', e, 'EV_EFI_VARIABLE_AUTHORITY data does not hash to its digest');
    }
    data = shorter;
    quirk = 'shim-extra-byte';
  }
  const v = parseEfiVariable(data, { allowTrailing: quirk !== undefined });
  // EFI_SIGNATURE_DATA (owner GUID ‖ DER) from firmware; a bare DER certificate from shim (no GUID).
  let der: Uint8Array | undefined;
  if (v.data.length > 16 && looksLikeDer(v.data.subarray(16))) der = v.data.subarray(16);
  else if (looksLikeDer(v.data)) der = v.data;
  return {
    variable: v.name,
    guid: v.guid,
    sequence: e.sequence,
    afterSeparator,
    certificate: der ? await certificateFact(der.slice()) : undefined,
    dataSha256: der ? undefined : await sha256Hex(v.data),
    quirk,
  };
}

const SEPARATOR_DATA = '00000000';

/** Secure Boot facts from the authenticated events of PCR 7, or undefined if it has no SecureBoot variable. */
export async function secureBootFacts(
  events: readonly AuthenticatedEvent[],
): Promise<SecureBootFacts | undefined> {
  const out: SecureBootFacts = {
    enabled: false,
    pk: undefined,
    kek: undefined,
    db: undefined,
    dbx: undefined,
    authorities: [],
    dmaProtectionDisabled: false,
  };
  let separator: AuthenticatedEvent | undefined;
  let secureBootVar: Uint8Array | undefined;
  const seen = new Set<string>();
  for (const e of events) {
    if (e.pcr !== 7) continue;
    switch (e.type) {
      case EV.EV_SEPARATOR: {
        if (separator) throw reject('separator-duplicate', e, 'a second separator');
        if (toHex(e.data) !== SEPARATOR_DATA || !(await digestCommitsTo(e, e.data))) {
          throw reject('separator-invalid', e, 'the separator is not a valid 00000000 separator');
        }
        separator = e;
        break;
      }
      case EV.EV_EFI_ACTION: {
        const action = utf8.decode(e.data);
        if (!(await digestCommitsTo(e, e.data))) {
          throw reject('action-digest', e, 'EV_EFI_ACTION data does not hash to its digest');
        }
        if (action === 'UEFI Debug Mode')
          throw reject('debug-mode', e, 'a UEFI debugger was present during boot');
        if (action !== 'DMA Protection Disabled')
          throw reject('action-unexpected', e, `unexpected EFI action '${action}'`);
        out.dmaProtectionDisabled = true;
        break;
      }
      case EV.EV_EFI_VARIABLE_DRIVER_CONFIG: {
        if (!(await digestCommitsTo(e, e.data))) {
          throw reject(
            'variable-digest',
            e,
            'EV_EFI_VARIABLE_DRIVER_CONFIG data does not hash to its digest',
          );
        }
        const v = parseEfiVariable(e.data);
        const key = `${v.guid}/${v.name}`;
        if (seen.has(key)) throw reject('variable-duplicate', e, `variable ${v.name} measured twice`);
        seen.add(key);
        // Configuration measured after the separator was set after the firmware handed over control.
        if (separator) throw reject('variable-after-separator', e, `variable ${v.name} after the separator`);
        if (v.guid === EFI_GUID.GLOBAL_VARIABLE && v.name === 'SecureBoot') {
          if (v.data.length > 1)
            throw reject('secureboot-size', e, `SecureBoot is ${v.data.length} bytes, not 1`);
          secureBootVar = v.data;
          out.enabled = v.data.length === 1 && v.data[0] === 1;
        } else if (
          Object.hasOwn(DATABASES, v.name) &&
          DATABASES[v.name as keyof typeof DATABASES] === v.guid
        ) {
          const db = await signatureDatabase(v);
          if (v.name === 'PK') out.pk = db;
          else if (v.name === 'KEK') out.kek = db;
          else if (v.name === 'db') out.db = db;
          else out.dbx = db;
        }
        break;
      }
      case EV.EV_EFI_VARIABLE_AUTHORITY:
        out.authorities.push(await authority(e, separator !== undefined));
        break;
      default:
        throw reject(
          'unexpected-event-type',
          e,
          `event type ${e.typeName ?? `0x${e.type.toString(16)}`} is not expected in PCR 7`,
        );
    }
  }
  if (secureBootVar === undefined) return undefined;
  if (out.enabled) {
    // Enforcing Secure Boot without keys or without any authority used means the log is not the boot.
    const empty = (d: SignatureDatabase | undefined) =>
      !d || d.certificates.length + d.sha256.length + d.other.length === 0;
    if (empty(out.pk) || empty(out.kek) || empty(out.db)) {
      throw reject('secureboot-keys', undefined, 'Secure Boot is enabled but PK, KEK or db is empty');
    }
    if (out.authorities.length === 0) {
      throw reject(
        'secureboot-authority',
        undefined,
        'Secure Boot is enabled but no authority verified anything',
      );
    }
  }
  return out;
}
