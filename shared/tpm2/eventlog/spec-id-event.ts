import { TpmError } from '../errors.ts';
import { logBankName } from './digest-algorithms.ts';
import { LeReader } from './le-reader.ts';

/**
 * `TCG_EfiSpecIDEvent` (PC Client PFP §10.4.5.1): the data of the first, legacy-format EV_NO_ACTION
 * event of a crypto-agile log. Its algorithm table is the ONLY source of digest sizes for the rest of
 * the log: a TCG_PCR_EVENT2 digest has no length field of its own.
 */
export interface SpecIdEvent {
  platformClass: number;
  specVersionMinor: number;
  specVersionMajor: number;
  specErrata: number;
  uintnSize: number;
  algorithms: { algorithmId: number; digestSize: number; bank: string }[];
  vendorInfo: Uint8Array;
}

const SIGNATURE_03 = 'Spec ID Event03\0';

/** Banks in a real TPM: HASH_COUNT is a handful; 16 bounds the loop before any allocation. */
const MAX_ALGORITHMS = 16;

/** True when `data` starts with the crypto-agile signature "Spec ID Event03\0". */
export function isSpecIdEvent03(data: Uint8Array): boolean {
  if (data.length < SIGNATURE_03.length) return false;
  for (let i = 0; i < SIGNATURE_03.length; i++) if (data[i] !== SIGNATURE_03.charCodeAt(i)) return false;
  return true;
}

export function parseSpecIdEvent(data: Uint8Array): SpecIdEvent {
  const r = new LeReader(data, 'Spec ID event');
  r.bytesN(16, 'signature');
  const platformClass = r.u32('platformClass');
  const specVersionMinor = r.u8('specVersionMinor');
  const specVersionMajor = r.u8('specVersionMajor');
  const specErrata = r.u8('specErrata');
  const uintnSize = r.u8('uintnSize');
  if (specVersionMajor !== 2) {
    throw new TpmError(
      'EVENT_LOG_INVALID',
      `Spec ID event: version ${specVersionMajor}.${specVersionMinor} is not a 2.x crypto-agile log`,
    );
  }
  const count = r.u32('numberOfAlgorithms');
  if (count === 0 || count > MAX_ALGORITHMS) {
    throw new TpmError(
      'EVENT_LOG_INVALID',
      `Spec ID event: ${count} algorithms (1…${MAX_ALGORITHMS} allowed)`,
    );
  }
  const algorithms: SpecIdEvent['algorithms'] = [];
  for (let i = 0; i < count; i++) {
    const algorithmId = r.u16(`digestSizes[${i}].algorithmId`);
    const digestSize = r.u16(`digestSizes[${i}].digestSize`);
    const bank = logBankName(algorithmId, digestSize);
    if (algorithms.some((a) => a.algorithmId === algorithmId)) {
      throw new TpmError('EVENT_LOG_INVALID', `Spec ID event: ${bank} is listed twice`);
    }
    algorithms.push({ algorithmId, digestSize, bank });
  }
  const vendorInfoSize = r.u8('vendorInfoSize');
  const vendorInfo = r.bytesN(vendorInfoSize, 'vendorInfo');
  r.end();
  return { platformClass, specVersionMinor, specVersionMajor, specErrata, uintnSize, algorithms, vendorInfo };
}
