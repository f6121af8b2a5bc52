import { z } from 'zod';

/**
 * Value formats the HTTP contract fixes (design/API.md "Conventions"). Every request and response
 * schema is built from these, so the Worker, the clients and the OpenAPI document agree.
 */

/** Standard base64 with padding (RFC 4648 §4); not base64url. */
export const Base64 = z
  .string()
  .regex(
    /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
    'must be standard base64 with padding',
  )
  .meta({ format: 'byte' });

export const HexDigest = z
  .string()
  .regex(/^(?:[0-9a-f]{2}){20,64}$/, 'must be a lowercase hex digest (20 to 64 bytes)');

export const InstallToken = z
  .string()
  .regex(/^ndr_install_[0-9a-f]{64}$/, 'must be ndr_install_ followed by 64 lowercase hex characters')
  .meta({ description: 'Install token from the welcome email. Shown once, stored only as a SHA-256 hash.' });

export const ApiKey = z
  .string()
  .regex(/^ndr_live_[0-9a-f]{64}$/, 'must be ndr_live_ followed by 64 lowercase hex characters')
  .meta({ description: 'Node API key, returned once by activation. Stored only as a SHA-256 hash.' });

export const NodeId = z
  .string()
  .regex(
    /^0x[0-9a-f]{64}$/,
    "must be 0x followed by 64 lowercase hex characters (SHA-256 of the node key's SPKI)",
  )
  .meta({ description: 'SHA-256 of the node public key SPKI DER, 0x-prefixed lowercase hex.' });

export const Timestamp = z.string().meta({ format: 'date-time', description: 'RFC 3339 UTC' });

export const Tier = z.enum(['ALL', 'ORACLE', 'GUARDIAN']);
export const NodeOs = z.enum(['linux', 'windows']);
export const NodeStatus = z.enum(['active', 'suspended', 'revoked']);

export const PcrBank = z.enum(['sha1', 'sha256', 'sha384', 'sha512']);
export const PcrIndex = z.number().int().min(0).max(23);

/** `{"sha256": {"0": "<hex>", "7": "<hex>"}}` — bank → PCR index (decimal string) → digest. */
export const PcrValues = z
  .partialRecord(
    PcrBank,
    z.record(z.string().regex(/^(?:[0-9]|1[0-9]|2[0-3])$/, 'PCR index 0..23'), HexDigest),
  )
  .meta({ description: 'bank name → PCR index (decimal string) → lowercase hex digest' });

/** `{"sha256": [0,1,2,3,4,5,6,7]}` */
export const PcrSelection = z.partialRecord(PcrBank, z.array(PcrIndex).max(24));

export const SpkiPem = z
  .string()
  .max(4096)
  .regex(
    /^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----\s*$/,
    'must be an SPKI PEM (BEGIN PUBLIC KEY)',
  );
