import type { JsonObject } from './json-value.ts';
import { toJson } from './json-value.ts';

/**
 * The vault tree Provara's bootstrap writes (PROVARA.md §4.1). The compliance suite requires these
 * directories and files (tests 01–02); policy contents follow the reference so a Python tool reads them.
 */
export const REQUIRED_DIRS = [
  'identity',
  'events',
  'state',
  'artifacts',
  'artifacts/cas',
  'policies',
] as const;
export const REQUIRED_FILES = [
  'identity/genesis.json',
  'identity/keys.json',
  'events/events.ndjson',
  'policies/safety_policy.json',
  'policies/sync_contract.json',
  'policies/retention_policy.json',
  'manifest.json',
  'merkle_root.txt',
] as const;

export const GENESIS_PATH = 'identity/genesis.json';
export const KEYS_PATH = 'identity/keys.json';
export const PENDING_DIR = 'pending';

export function genesisDocument(uid: string, birth: string, rootKeyId: string): JsonObject {
  return toJson({
    uid,
    birth_timestamp: birth,
    root_key_id: rootKeyId,
    governance_model: 'policies/sync_contract.json',
    initial_ontology_versions: { perception: 'perception_ontology_v1.json' },
  }) as JsonObject;
}

export function safetyPolicy(): JsonObject {
  return toJson({
    action_classes: {
      L0: { description: 'data-only/reversible', offline_allowed: true, approval: 'local_reducer' },
      L1: {
        description: 'low-kinetic',
        offline_allowed: true,
        approval: 'local_reducer+policy',
        review_on_sync: true,
      },
      L2: {
        description: 'high-kinetic',
        offline_allowed: 'within_lease',
        approval: 'multi_sensor+signed_policy',
      },
      L3: {
        description: 'irreversible/human-space',
        offline_allowed: false,
        approval: 'remote_signature_or_mfa',
      },
    },
    merge_ratchet: 'most_restrictive_wins',
    loosen_requires: 'signed_policy_update_by_top_authority',
  }) as JsonObject;
}

export function syncContract(rootKeyId: string): JsonObject {
  return toJson({
    authorities: [{ role: 'root', key_id: rootKeyId, scope: 'all' }],
    merge_policies: {
      events: 'union_by_event_id',
      beliefs: 'evidence_union_then_reduce',
      policies: 'authority_signed_update',
    },
    lease_model: { default_duration_seconds: 300, fencing: true },
    replication_factor: 2,
    degradation_ladder: ['designated_human', 'quorum_peers', 'archive_peer', 'local_emergency'],
  }) as JsonObject;
}

export function retentionPolicy(): JsonObject {
  return toJson({
    events: 'permanent',
    checkpoints: 'permanent',
    perception_t0_raw: { max_age_days: 30, eviction: 'oldest_first' },
    artifacts_cas: { referenced_by_event: 'permanent', unreferenced: { max_age_days: 90 } },
    state_caches: 'regeneratable_on_eviction',
  }) as JsonObject;
}

export function perceptionOntology(): JsonObject {
  return toJson({
    version: 'v1',
    object_classes: ['door', 'mug', 'person', 'container', 'surface', 'tool', 'obstacle'],
  }) as JsonObject;
}
