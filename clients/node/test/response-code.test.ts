import { describe, expect, it } from 'vitest';
import { decodeResponseCode } from '../src/tpm/response-code.ts';

describe('decodeResponseCode', () => {
  it('names success', () => {
    expect(decodeResponseCode(0)).toMatchObject({ name: 'TPM_RC_SUCCESS', kind: 'success', layer: 'tpm' });
  });

  it('decodes a format-one error about a session (0x98e = AUTH_FAIL, session 1)', () => {
    const d = decodeResponseCode(0x98e);
    expect(d).toMatchObject({ name: 'TPM_RC_AUTH_FAIL', kind: 'error', session: 1, base: 0x08e });
    expect(d.handle).toBeUndefined();
    expect(d.message).toMatch(/^TPM_RC_AUTH_FAIL \(session 1\) \[0x0000098e\]: the authorization/);
  });

  it('decodes a format-one error about a handle (0x18b = HANDLE, handle 1)', () => {
    expect(decodeResponseCode(0x18b)).toMatchObject({ name: 'TPM_RC_HANDLE', handle: 1 });
  });

  it('decodes a format-one error about a parameter (0x2d5 = SIZE, parameter 2)', () => {
    expect(decodeResponseCode(0x2d5)).toMatchObject({ name: 'TPM_RC_SIZE', parameter: 2 });
    expect(decodeResponseCode(0x1c4)).toMatchObject({ name: 'TPM_RC_VALUE', parameter: 1 });
  });

  it('decodes a format-one error with no index (0x09d = POLICY_FAIL)', () => {
    const d = decodeResponseCode(0x09d);
    expect(d.name).toBe('TPM_RC_POLICY_FAIL');
    expect([d.handle, d.session, d.parameter]).toEqual([undefined, undefined, undefined]);
  });

  it('decodes format-zero errors and warnings', () => {
    expect(decodeResponseCode(0x100)).toMatchObject({ name: 'TPM_RC_INITIALIZE', kind: 'error' });
    expect(decodeResponseCode(0x902)).toMatchObject({ name: 'TPM_RC_OBJECT_MEMORY', kind: 'warning' });
    expect(decodeResponseCode(0x921)).toMatchObject({ name: 'TPM_RC_LOCKOUT', kind: 'warning' });
    expect(decodeResponseCode(0x910)).toMatchObject({ name: 'TPM_RC_REFERENCE_H0', kind: 'warning' });
    expect(decodeResponseCode(0x91e)).toMatchObject({ name: 'TPM_RC_REFERENCE_S6', kind: 'warning' });
  });

  it('recognises a TPM 1.2 BAD_TAG answer and vendor codes', () => {
    expect(decodeResponseCode(0x1e)).toMatchObject({ name: 'TPM_RC_BAD_TAG', kind: 'tpm1.2' });
    expect(decodeResponseCode(0x500)).toMatchObject({ kind: 'vendor' });
  });

  it('names the TSS layer of a resource-manager code', () => {
    const d = decodeResponseCode(0x000c0902);
    expect(d).toMatchObject({ layer: 'resmgr-tpm', name: 'TPM_RC_OBJECT_MEMORY' });
    expect(d.message).toContain('from the resmgr-tpm layer');
  });

  it('names unknown codes by value instead of failing', () => {
    expect(decodeResponseCode(0x17f).name).toBe('TPM_RC_0x17f');
    expect(decodeResponseCode(0x0bf).name).toBe('TPM_RC_0x0bf');
  });
});
