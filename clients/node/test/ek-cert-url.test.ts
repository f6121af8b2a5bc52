import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { fromHex } from '../../../shared/encoding/bytes.ts';
import { parsePublic2b, type RsaPublic } from '../../../shared/tpm2/structures/public.ts';
import { fetchEkCertificate } from '../src/tpm/ek.ts';
import {
  amdEkCertUrl,
  certificateFromServiceResponse,
  ekCertUrl,
  intelEkCertUrl,
} from '../src/tpm/ek-cert-url.ts';
import type { LoadedObject } from '../src/tpm/objects.ts';
import { ekEccTemplate } from '../src/tpm/templates.ts';

/**
 * The RSA EK public area (TPM2B_PUBLIC) of tpm2-tools' `tpm2_getmanufec` integration test, whose Intel EK
 * certificate service URL ends in `WVEG2rRwkQ7m3RpXlUphgo6Y2HLxl18h6ZZkkOAdnBE%3D` (the URL that test
 * downloads; go-attestation's tests use the same). A published vector: the derivation is checked against
 * a value computed by others, not by this code.
 */
const INTEL_TEST_EK = fromHex(
  '013a0001000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa00060080004300100800000000000100' +
    'c320e2f244a8601aacf3e01d26c665249935562de1da197e9e7f076c469613cfb653e98ec2c386fc1d133f2c8c6cc338b732f0b208bd838a877a3e5b' +
    'bc3e1d4084e835c7c8906a1c05b4d2d30fdbebc1dbad950fa6b165bd4b6a864603146164c0c4f59d489011ef1f928deea6e90061f3d375e564627315' +
    '1ef622252098be1a4ab01dc0a12227c609fdaceb115af408d4693a6f49919774695b0c12bc18a1ff7120a7337b2fb5f1951d8bb7f094d5b554c11c95' +
    '23b30729fe64787d0a13b9e630488dab4dfd86634a5270ec72fcc5a44dc679a8f32938dd8197e29dae839f5b4ca0f5de27c9522c23c54e1c2ce57859' +
    '525118bd4470b18180eef78ae4267bcd',
)!;

describe('EK certificate URL derivation', () => {
  const ek = parsePublic2b(INTEL_TEST_EK) as RsaPublic;

  it('derives the published Intel URL for the tpm2-tools test EK', async () => {
    expect(await intelEkCertUrl(ek)).toBe(
      'https://ekop.intel.com/ekcertservice/WVEG2rRwkQ7m3RpXlUphgo6Y2HLxl18h6ZZkkOAdnBE%3D',
    );
  });

  it('derives the AMD URL as the uppercase hex of the first 16 bytes of SHA-256(0x00002222 ‖ e ‖ n)', async () => {
    // No published AMD vector exists to our knowledge: checked against node:crypto over the documented input.
    const expected = createHash('sha256')
      .update(Buffer.from([0, 0, 0x22, 0x22, 0, 1, 0, 1]))
      .update(ek.modulus)
      .digest()
      .subarray(0, 16)
      .toString('hex')
      .toUpperCase();
    const url = await amdEkCertUrl(ek);
    expect(url).toBe(`https://ftpm.amd.com/pki/aia/${expected}`);
    expect(url).toMatch(/\/[0-9A-F]{32}$/);
  });

  it('picks the service by manufacturer id, and none for ECC EKs or other vendors', async () => {
    expect(await ekCertUrl('INTC', ek)).toContain('ekop.intel.com');
    expect(await ekCertUrl('AMD', ek)).toContain('ftpm.amd.com');
    expect(await ekCertUrl('IFX', ek)).toBeUndefined();
    expect(await ekCertUrl('INTC', ekEccTemplate())).toBeUndefined();
  });

  it('reads DER, PEM and Intel JSON (base64url) answers', () => {
    const der = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x05);
    expect(certificateFromServiceResponse(der)).toEqual(der);
    const b64 = Buffer.from(der).toString('base64');
    const pem = `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
    expect(certificateFromServiceResponse(new TextEncoder().encode(pem))).toEqual(der);
    const json = JSON.stringify({ pubhash: 'x', certificate: Buffer.from(der).toString('base64url') });
    expect(certificateFromServiceResponse(new TextEncoder().encode(json))).toEqual(der);
    expect(certificateFromServiceResponse(new TextEncoder().encode('<html>nope</html>'))).toBeUndefined();
  });

  it('fetches from the derived URL (fetch test double) and fails with EK_CERT_NOT_FOUND on 404', async () => {
    const loaded = {
      handle: 0x80000000,
      public: ek,
      publicArea: INTEL_TEST_EK.subarray(2),
      name: new Uint8Array(0),
    } as LoadedObject;
    const der = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x05);
    const ok = vi.fn(async () => new Response(der));
    expect(await fetchEkCertificate('INTC', loaded, ok as unknown as typeof fetch)).toEqual(der);
    expect(ok.mock.calls[0]).toBeDefined();
    expect(String((ok.mock.calls[0] as unknown[])[0])).toContain(
      'WVEG2rRwkQ7m3RpXlUphgo6Y2HLxl18h6ZZkkOAdnBE%3D',
    );
    const missing = async () => new Response('not found', { status: 404 });
    await expect(fetchEkCertificate('INTC', loaded, missing as typeof fetch)).rejects.toMatchObject({
      code: 'EK_CERT_NOT_FOUND',
    });
    await expect(fetchEkCertificate('IFX', loaded, ok as unknown as typeof fetch)).rejects.toMatchObject({
      code: 'EK_CERT_NOT_FOUND',
    });
  });
});
