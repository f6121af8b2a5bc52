import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkClockProgress, firmwareChanged } from './clock.ts';
import { TpmError, type TpmReason } from './errors.ts';
import { parseAttest, type TpmsClockInfo } from './structures/attest.ts';
import { loadVectors } from './testing/vectors.ts';

const base: TpmsClockInfo = { clock: 5_000_000n, resetCount: 10, restartCount: 2, safe: true };

function reason(f: () => void): TpmReason | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof TpmError) return e.reason;
    throw e;
  }
}

describe('checkClockProgress', () => {
  it('accepts a clock that advanced within the same boot', () => {
    expect(checkClockProgress(base, { ...base, clock: base.clock + 60_000n })).toEqual({
      event: 'same-boot',
      elapsedMs: 60_000n,
    });
  });

  it('accepts a clock that did not advance (two quotes in one millisecond)', () => {
    expect(checkClockProgress(base, base).event).toBe('same-boot');
  });

  it('rejects a clock that went backwards within the same boot', () => {
    expect(reason(() => checkClockProgress(base, { ...base, clock: base.clock - 1n }))).toBe(
      'CLOCK_REGRESSION',
    );
  });

  it('rejects a clock that went backwards within the same boot even when not safe', () => {
    expect(reason(() => checkClockProgress(base, { ...base, clock: base.clock - 1n, safe: false }))).toBe(
      'CLOCK_REGRESSION',
    );
  });

  it('reports a reset when resetCount advanced and restartCount went back to 0', () => {
    expect(
      checkClockProgress(base, { ...base, resetCount: 11, restartCount: 0, clock: base.clock + 1n }).event,
    ).toBe('reset');
  });

  it('reports a restart when only restartCount advanced', () => {
    expect(checkClockProgress(base, { ...base, restartCount: 3, clock: base.clock + 1n }).event).toBe(
      'restart',
    );
  });

  it('rejects a resetCount that went backwards', () => {
    expect(reason(() => checkClockProgress(base, { ...base, resetCount: 9 }))).toBe('CLOCK_REGRESSION');
  });

  it('rejects a restartCount that went backwards within one reset', () => {
    expect(reason(() => checkClockProgress(base, { ...base, restartCount: 1 }))).toBe('CLOCK_REGRESSION');
  });

  it('compares obfuscated counters modulo 2^32: a reset across the wrap is forward', () => {
    const prev = { ...base, resetCount: 0xffffffff, restartCount: 0x7fff0000 };
    expect(
      checkClockProgress(prev, { ...prev, resetCount: 0, restartCount: 0x12345678, clock: prev.clock + 10n })
        .event,
    ).toBe('reset');
  });

  it('compares obfuscated counters modulo 2^32: a step back across the wrap is a regression', () => {
    const prev = { ...base, resetCount: 0 };
    expect(reason(() => checkClockProgress(prev, { ...prev, resetCount: 0xffffffff }))).toBe(
      'CLOCK_REGRESSION',
    );
  });

  it('rejects a clock behind the last reported value after a reboot when the TPM claims safe', () => {
    expect(
      reason(() =>
        checkClockProgress(base, { ...base, resetCount: 11, restartCount: 0, clock: base.clock - 1000n }),
      ),
    ).toBe('CLOCK_REGRESSION');
  });

  it('accepts a clock behind the last reported value after an unorderly reboot (safe = NO)', () => {
    const r = checkClockProgress(base, {
      ...base,
      resetCount: 11,
      restartCount: 0,
      clock: base.clock - 1000n,
      safe: false,
    });
    expect(r).toEqual({ event: 'reset', elapsedMs: -1000n });
  });

  it('flags a TPM2_Clear (clock and counters back to 0) as a regression', () => {
    expect(
      reason(() => checkClockProgress(base, { clock: 10n, resetCount: 0, restartCount: 0, safe: true })),
    ).toBe('CLOCK_REGRESSION');
  });

  it('reports firmware changes by equality only', () => {
    expect(firmwareChanged(1n, 1n)).toBe(false);
    expect(firmwareChanged(1n, 2n)).toBe(true);
  });

  it('orders the Windows quote after the Windows AK creation attestation (same obfuscated AK)', async () => {
    const v = await loadVectors(
      (p) => new Uint8Array(readFileSync(new URL(`../../../shared/vectors/${p}`, import.meta.url))),
    );
    const creation = parseAttest(v.windows.createAttestation).clockInfo;
    const quote = parseAttest(v.windows.quote).clockInfo;
    expect(reason(() => checkClockProgress(creation, quote))).toBe('ok');
    expect(reason(() => checkClockProgress(quote, creation))).toBe('CLOCK_REGRESSION');
  });
});
