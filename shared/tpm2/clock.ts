import { TpmError } from './errors.ts';
import type { TpmsClockInfo } from './structures/attest.ts';

/**
 * Clock monotonicity across attestations of the SAME AK (ATTESTATION.md §3.9; keylime's check, minus its
 * wraparound bug).
 *
 * What the fields mean: `clock` counts milliseconds of powered time since TPM2_Clear and survives reboots;
 * `resetCount` increments on every TPM Reset (reboot); `restartCount` increments on Restart/Resume and
 * returns to 0 on Reset; `safe` is YES when no larger clock value was ever reported.
 *
 * What can be compared: for an AK outside the endorsement/platform hierarchy (every storage-hierarchy AK,
 * Windows PCP AKs) the TPM adds a per-key secret constant to resetCount, restartCount and firmwareVersion
 * (ms-tpm-20-ref Attest_spt.c, KDFa(shProof, "OBFUSCATE", qualifiedSigner)). The absolute values are
 * therefore meaningless and differ between AKs of one TPM — but the constant is fixed for one AK until
 * TPM2_Clear, and the addition wraps modulo 2^32, so the DIFFERENCE of two values from the same AK,
 * taken modulo 2^32, is the true difference. Hence: only compare clock infos from the same AK; compare
 * counters by modular difference (a "forward" step is below 2^31, a "backward" one wraps to ≥ 2^31);
 * treat firmwareVersion as equal/not-equal only. `clock` itself is never obfuscated.
 *
 * What cannot be compared: counters across different AKs; counters across a TPM2_Clear (new constant,
 * clock back to 0 — which this check reports as a regression, and which should force re-registration
 * anyway because the storage hierarchy, and with it a storage AK, is gone).
 */

export type ClockEvent = 'same-boot' | 'restart' | 'reset';

export interface ClockProgress {
  /** What happened between the two attestations. */
  event: ClockEvent;
  /** Clock milliseconds elapsed (may be negative across a reboot after unorderly shutdown, when !safe). */
  elapsedMs: bigint;
}

const HALF = 0x80000000;

/** (b - a) mod 2^32: the true difference of two obfuscated counters of the same key. */
function counterDelta(a: number, b: number): number {
  return (b - a) >>> 0;
}

function regression(message: string): TpmError {
  return new TpmError('CLOCK_REGRESSION', message);
}

/**
 * Checks `current` against `previous` (both from the same AK, previous accepted earlier) and throws
 * CLOCK_REGRESSION if the TPM's time went backwards: resetCount decreased; restartCount decreased within
 * one reset; clock decreased within one boot (it only moves forward while powered); or clock decreased
 * across a reboot while `current.safe` claims no larger value was ever reported.
 * A clock that did not advance at all is accepted (two quotes can fall in the same millisecond).
 */
export function checkClockProgress(previous: TpmsClockInfo, current: TpmsClockInfo): ClockProgress {
  const elapsedMs = current.clock - previous.clock;
  const resets = counterDelta(previous.resetCount, current.resetCount);
  if (resets >= HALF) {
    throw regression(`resetCount went backwards (${previous.resetCount} → ${current.resetCount})`);
  }
  if (resets === 0) {
    const restarts = counterDelta(previous.restartCount, current.restartCount);
    if (restarts >= HALF) {
      throw regression(
        `restartCount went backwards within one reset (${previous.restartCount} → ${current.restartCount})`,
      );
    }
    if (restarts === 0) {
      if (elapsedMs < 0n)
        throw regression(`clock went backwards within one boot (${previous.clock} → ${current.clock} ms)`);
      return { event: 'same-boot', elapsedMs };
    }
  }
  // After a reboot the clock resumes from its last NV save: it may lag a reported value only if the TPM
  // says so (safe = NO after an unorderly shutdown).
  if (elapsedMs < 0n && current.safe) {
    throw regression(
      `clock went backwards across a reboot while safe (${previous.clock} → ${current.clock} ms)`,
    );
  }
  return { event: resets === 0 ? 'restart' : 'reset', elapsedMs };
}

/** Whether the firmware version changed (firmwareVersion is obfuscated like the counters: equality only). */
export function firmwareChanged(previous: bigint, current: bigint): boolean {
  return previous !== current;
}
