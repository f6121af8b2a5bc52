import { TPMA_OBJECT } from './constants.ts';

/** The names of the TPMA_OBJECT bits set in `attributes` (Part 2 §8.3), for results and messages. */
export function objectAttributeNames(attributes: number): string[] {
  return Object.entries(TPMA_OBJECT)
    .filter(([, bit]) => (attributes & bit) !== 0)
    .map(([name]) => name);
}

/** The names of the bits in `mask` that are NOT set in `attributes`. */
export function missingAttributes(attributes: number, mask: number): string[] {
  return objectAttributeNames(mask & ~attributes);
}

/** The names of the bits in `mask` that ARE set in `attributes`. */
export function presentAttributes(attributes: number, mask: number): string[] {
  return objectAttributeNames(mask & attributes);
}
