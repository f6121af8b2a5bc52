import { HASH_ALGS } from '../../../../shared/tpm2/constants.ts';
import { type ByteReader, ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import {
  readPcrSelectionList,
  selectedPcrs,
  type TpmsPcrSelection,
} from '../../../../shared/tpm2/structures/pcr-selection.ts';
import { AgentError } from '../errors.ts';
import { TPM_CAP, TPM_CC, TPM_PT } from './constants.ts';
import type { Tpm } from './tpm.ts';

/** TPM2_GetCapability and what the agent reads with it: properties, PCR banks, handles in use. */

const MAX_LIST = 256;

function getCapability<T>(
  tpm: Tpm,
  capability: number,
  property: number,
  count: number,
  read: (r: ByteReader) => T,
): Promise<{ moreData: boolean; data: T }> {
  return tpm.run({
    name: 'GetCapability',
    code: TPM_CC.GetCapability,
    params: new ByteWriter().u32(capability).u32(property).u32(count).finish(),
    parse: (r) => {
      const more = r.u8('moreData');
      const cap = r.u32('capability');
      if (cap !== capability) {
        throw new AgentError(
          'TPM_RESPONSE_MALFORMED',
          `TPM2_GetCapability: asked for capability ${capability}, got ${cap}`,
        );
      }
      return { moreData: more === 1, data: read(r) };
    },
  });
}

/** TPM_CAP_TPM_PROPERTIES from `first` up to `count` properties: property → value (follows moreData). */
export async function getTpmProperties(tpm: Tpm, first: number, count: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  let next = first;
  while (out.size < count) {
    const { moreData, data } = await getCapability(
      tpm,
      TPM_CAP.TPM_PROPERTIES,
      next,
      count - out.size,
      (r) => {
        const n = r.u32('TPML_TAGGED_TPM_PROPERTY.count');
        if (n > MAX_LIST)
          throw new AgentError('TPM_RESPONSE_MALFORMED', `TPM2_GetCapability: ${n} properties`);
        const page: [number, number][] = [];
        for (let i = 0; i < n; i++) page.push([r.u32('property'), r.u32('value')]);
        return page;
      },
    );
    for (const [p, v] of data) out.set(p, v);
    const last = data.at(-1);
    if (!moreData || last === undefined || last[0] < next) break;
    next = last[0] + 1;
  }
  return out;
}

/** TPM_CAP_PCRS: the allocated PCR banks and which PCRs each has. */
export async function getPcrBanks(tpm: Tpm): Promise<TpmsPcrSelection[]> {
  const { data } = await getCapability(tpm, TPM_CAP.PCRS, 0, 1, (r) => readPcrSelectionList(r));
  return data;
}

/** TPM_CAP_HANDLES from `first` (e.g. 0x81000000 for persistent objects): every handle in use, in order. */
export async function getHandles(tpm: Tpm, first: number): Promise<number[]> {
  const out: number[] = [];
  let next = first;
  const top = (first & 0xff000000) >>> 0;
  for (;;) {
    const { moreData, data } = await getCapability(tpm, TPM_CAP.HANDLES, next, 64, (r) => {
      const n = r.u32('TPML_HANDLE.count');
      if (n > MAX_LIST) throw new AgentError('TPM_RESPONSE_MALFORMED', `TPM2_GetCapability: ${n} handles`);
      const hs: number[] = [];
      for (let i = 0; i < n; i++) hs.push(r.u32('handle'));
      return hs;
    });
    const mine = data.filter((h) => (h & 0xff000000) >>> 0 === top);
    out.push(...mine);
    const last = mine.at(-1);
    if (!moreData || last === undefined || mine.length < data.length) return out;
    next = last + 1;
  }
}

/** Four bytes of a u32 property as ASCII, trailing NULs and spaces trimmed ("IBM", "INTC", "AMD"). */
export function propertyAscii(v: number | undefined): string {
  if (v === undefined) return '';
  let s = '';
  for (const shift of [24, 16, 8, 0]) {
    const c = (v >>> shift) & 0xff;
    if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
  }
  return s.trim();
}

export interface TpmInfo {
  /** TPM_PT_MANUFACTURER as its 4-character vendor id ("IBM", "INTC", "AMD", "NTC", "IFX", "STM", "MSFT"). */
  manufacturer: string;
  vendorString: string;
  /** FIRMWARE_VERSION_1/2 as four 16-bit parts, the way vendors quote them. */
  firmwareVersion: string;
  /** Spec family ("2.0"), level and revision (e.g. 1.59 → 159). */
  family: string;
  specRevision: number;
  specYear: number;
  pcrBanks: { bank: string; pcrs: number[] }[];
  /** TPM_PT_NV_BUFFER_MAX: the largest NV_Read chunk. */
  nvBufferMax: number;
}

export async function tpmInfo(tpm: Tpm): Promise<TpmInfo> {
  const props = await getTpmProperties(tpm, TPM_PT.FAMILY_INDICATOR, 64);
  const fw1 = props.get(TPM_PT.FIRMWARE_VERSION_1) ?? 0;
  const fw2 = props.get(TPM_PT.FIRMWARE_VERSION_2) ?? 0;
  const banks = await getPcrBanks(tpm);
  return {
    manufacturer: propertyAscii(props.get(TPM_PT.MANUFACTURER)),
    vendorString: [
      TPM_PT.VENDOR_STRING_1,
      TPM_PT.VENDOR_STRING_2,
      TPM_PT.VENDOR_STRING_3,
      TPM_PT.VENDOR_STRING_4,
    ]
      .map((p) => propertyAscii(props.get(p)))
      .join(''),
    firmwareVersion: [fw1 >>> 16, fw1 & 0xffff, fw2 >>> 16, fw2 & 0xffff].join('.'),
    family: propertyAscii(props.get(TPM_PT.FAMILY_INDICATOR)),
    specRevision: props.get(TPM_PT.REVISION) ?? 0,
    specYear: props.get(TPM_PT.YEAR) ?? 0,
    pcrBanks: banks
      .filter((b) => HASH_ALGS[b.hash] !== undefined)
      .map((b) => ({ bank: HASH_ALGS[b.hash]!.name, pcrs: selectedPcrs(b) }))
      .filter((b) => b.pcrs.length > 0),
    nvBufferMax: props.get(TPM_PT.NV_BUFFER_MAX) ?? 512,
  };
}
