import { addAnchors, defaultTrustStore, type TrustStore } from '../../../shared/tpm2/ek-certificate.ts';
import type { EkAnchor } from '../storage/types.ts';

/**
 * EK trust anchors: the shipped manufacturer bundle plus the anchors admins added. Keyed by the exact
 * set of anchor fingerprints, so an admin change is seen by the very next registration while an
 * unchanged set is not re-parsed on every request.
 */
const stores = new Map<string, TrustStore>();

export function trustStoreWith(extra: readonly EkAnchor[]): TrustStore {
  if (extra.length === 0) return defaultTrustStore();
  const key = extra
    .map((a) => a.fingerprint)
    .sort()
    .join(',');
  let store = stores.get(key);
  if (!store) {
    store = addAnchors(defaultTrustStore(), extra.map((a) => a.pem).join('\n'));
    if (stores.size > 16) stores.clear();
    stores.set(key, store);
  }
  return store;
}
