import { EK_CERT_NV_INDEX } from '../../../../shared/tpm2/constants.ts';
import { extractCertificateDer } from '../../../../shared/tpm2/ek-certificate.ts';
import { AgentError } from '../errors.ts';
import { TPM_RH } from './constants.ts';
import { certificateFromServiceResponse, ekCertUrl } from './ek-cert-url.ts';
import { TpmCommandError } from './framing.ts';
import { nvReadAll, nvReadPublic } from './nv.ts';
import { createPrimary, type LoadedObject } from './objects.ts';
import { type EkKind, ekTemplate } from './templates.ts';
import type { Tpm } from './tpm.ts';

/**
 * The endorsement key: recreated from the TCG default template (the same seed and template always give the
 * same key, so it need not be persisted) and its certificate, read from the TCG NV index or, for firmware
 * TPMs without one, fetched from the manufacturer.
 */

export const EK_CERT_INDEX: Readonly<Record<EkKind, number>> = {
  rsa: EK_CERT_NV_INDEX.RSA2048,
  ecc: EK_CERT_NV_INDEX.ECC_P256,
};

/** TPM2_CreatePrimary(TPM_RH_ENDORSEMENT, default EK template). Flush the handle when done. */
export function createEk(tpm: Tpm, kind: EkKind, endorsementAuth?: Uint8Array): Promise<LoadedObject> {
  return createPrimary(tpm, TPM_RH.ENDORSEMENT, ekTemplate(kind), endorsementAuth);
}

function isMissingIndex(e: unknown): boolean {
  // TPM_RC_HANDLE on handle 1: no such NV index.
  return e instanceof TpmCommandError && e.rc.name === 'TPM_RC_HANDLE';
}

/** Whether the TPM holds an EK certificate at the kind's TCG index (cheap: NV_ReadPublic only). */
export async function hasEkCertificate(tpm: Tpm, kind: EkKind): Promise<boolean> {
  try {
    await nvReadPublic(tpm, EK_CERT_INDEX[kind]);
    return true;
  } catch (e) {
    if (isMissingIndex(e)) return false;
    throw e;
  }
}

/** The EK certificate DER from NV (header and fill stripped), or undefined when the index is absent. */
export async function readEkCertificate(
  tpm: Tpm,
  kind: EkKind,
  chunkSize?: number,
): Promise<Uint8Array | undefined> {
  let blob: Uint8Array;
  try {
    blob = await nvReadAll(tpm, EK_CERT_INDEX[kind], chunkSize ? { chunkSize } : {});
  } catch (e) {
    if (isMissingIndex(e)) return undefined;
    throw e;
  }
  try {
    return extractCertificateDer(blob);
  } catch (e) {
    throw new AgentError(
      'TPM_RESPONSE_MALFORMED',
      `EK certificate in NV 0x${EK_CERT_INDEX[kind].toString(16)}: ${(e as Error).message}`,
    );
  }
}

/**
 * Fetches the EK certificate from the manufacturer's service (Intel PTT, AMD fTPM). `fetchImpl` is
 * injectable; nothing outside can be reached from the test machine.
 */
export async function fetchEkCertificate(
  manufacturer: string,
  ek: LoadedObject,
  fetchImpl: typeof fetch = fetch,
): Promise<Uint8Array> {
  const url = await ekCertUrl(manufacturer, ek.public);
  if (!url) {
    throw new AgentError(
      'EK_CERT_NOT_FOUND',
      `no EK certificate in NV and no certificate service for manufacturer '${manufacturer}'`,
    );
  }
  let res: Response;
  try {
    res = await fetchImpl(url, { signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw new AgentError('EK_CERT_NOT_FOUND', `cannot reach ${url}: ${(e as Error).message}`, { url });
  }
  if (!res.ok) throw new AgentError('EK_CERT_NOT_FOUND', `${url} answered ${res.status}`, { url });
  const der = certificateFromServiceResponse(new Uint8Array(await res.arrayBuffer()));
  if (!der) throw new AgentError('EK_CERT_NOT_FOUND', `${url} did not return a certificate`, { url });
  return der;
}
