import { TPMA_OBJECT } from './constants.ts';
import { TpmError, type TpmReason } from './errors.ts';

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

/**
 * Throws `reason` unless `attributes` has every bit of `required` and none of `forbidden`, naming what
 * is missing and what must not be there (the AK and node-key checks share this).
 */
export function requireAttributes(
  attributes: number,
  rule: { required: number; forbidden: number; reason: TpmReason; what: string },
): void {
  const missing = missingAttributes(attributes, rule.required);
  const forbidden = presentAttributes(attributes, rule.forbidden);
  if (missing.length === 0 && forbidden.length === 0) return;
  const parts = [
    missing.length > 0 ? `missing ${missing.join(', ')}` : '',
    forbidden.length > 0 ? `must not have ${forbidden.join(', ')}` : '',
  ].filter(Boolean);
  throw new TpmError(
    rule.reason,
    `${rule.what} attributes 0x${attributes.toString(16)}: ${parts.join('; ')}`,
  );
}
