import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, errorResponses, jsonResponse } from '../../router.ts';
import {
  auditSigner,
  buildAuditVault,
  foldAuditLog,
  signedHead,
  vaultTar,
} from '../../services/audit-vault.ts';

const HOW_SOON =
  'Every audit_events row (API, node, system, and direct dashboard/SQL edits, which a trigger queues in the same transaction) is signed by the fold pass: the Worker’s Cron Trigger runs it every minute, and every export and head call runs it first, so what they return includes every committed change.';

const AuditHead = z
  .object({
    head: z
      .object({
        merkle_root: z.string(),
        last_event_id: z.string().nullable(),
        event_count: z.number().int(),
        key_id: z.string(),
        spec_version: z.literal('1.0'),
        signed_at_utc: z.string(),
        vault_uid: z.string(),
        sig: z.string(),
      })
      .meta({
        description:
          'Provara checkpoint-style object; `sig` is Ed25519 (standard base64) over the canonical JSON of the object without `sig` (PROVARA.md §2.3), by the key `key_id`.',
      }),
    publicKeyB64: z.string().meta({
      description:
        'The service audit key (raw 32-byte Ed25519, base64); key_id = bp1_ + SHA-256(raw)[:16 hex].',
    }),
  })
  .meta({ id: 'AuditHead' });

const head = createRoute({
  method: 'get',
  path: '/head',
  tags: ['admin', 'audit'],
  summary: 'Signed Merkle root and event count of the audit log, for an outside party to pin',
  description: HOW_SOON,
  security: [{ supabaseAuth: [] }],
  responses: {
    200: jsonResponse(AuditHead, 'the signed head'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'AUDIT_LOG_UNAVAILABLE'),
  },
});

const exportLog = createRoute({
  method: 'get',
  path: '/export',
  tags: ['admin', 'audit'],
  summary: 'The signed audit log as a Provara Profile A vault',
  description:
    'Without `since`: the whole vault as a ustar archive (identity/genesis.json, identity/keys.json with the service key, policies/, events/events.ndjson, manifest.json, merkle_root.txt, and manifest.sig re-signed over the current root); it verifies offline with our verifier (shared/provara verifyVault) and Provara’s tools. ' +
    'With `since=N`: the signed event lines after position N as NDJSON (append them to events/events.ndjson of an earlier export and regenerate the manifest; the root must equal `x-audit-merkle-root`). ' +
    HOW_SOON,
  security: [{ supabaseAuth: [] }],
  request: { query: z.object({ since: z.coerce.number().int().min(0).optional() }) },
  responses: {
    200: {
      description: 'application/x-tar (whole vault) or application/x-ndjson (lines after `since`)',
      headers: {
        'x-audit-merkle-root': {
          schema: { type: 'string' },
          description: 'Merkle root of the whole vault now',
        },
        'x-audit-event-count': { schema: { type: 'string' }, description: 'Events in the whole log now' },
        'x-audit-key-id': { schema: { type: 'string' }, description: 'bp1_ id of the service audit key' },
      },
    },
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'AUDIT_LOG_UNAVAILABLE'),
  },
});

const fold = createRoute({
  method: 'post',
  path: '/fold',
  tags: ['admin', 'audit'],
  summary: 'Run a fold pass now (what the Cron Trigger does every minute)',
  security: [{ supabaseAuth: [] }],
  responses: {
    200: jsonResponse(
      z.object({ folded: z.number().int(), pending: z.number().int() }).meta({ id: 'AuditFoldResult' }),
      'rows signed',
    ),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'AUDIT_LOG_UNAVAILABLE'),
  },
});

export const audit = createRouter()
  .openapi(head, async (c) => {
    const signer = await auditSigner(c.var.config);
    const vault = await buildAuditVault(c.var.storage, signer);
    return c.json((await signedHead(vault, signer)) as z.infer<typeof AuditHead>, 200);
  })
  .openapi(exportLog, async (c) => {
    const { since } = c.req.valid('query');
    const signer = await auditSigner(c.var.config);
    const vault = await buildAuditVault(c.var.storage, signer);
    const headers = {
      'x-audit-merkle-root': vault.merkleRoot,
      'x-audit-event-count': String(vault.eventCount),
      'x-audit-key-id': vault.keyId,
      'cache-control': 'no-store',
    };
    if (since !== undefined) {
      const lines = await c.var.storage.auditLogLines(since, 1_000_000);
      return c.body(lines.map((l) => `${l.line}\n`).join(''), 200, {
        ...headers,
        'content-type': 'application/x-ndjson',
      });
    }
    const tar = await vaultTar(vault);
    return c.body(tar as Uint8Array<ArrayBuffer>, 200, {
      ...headers,
      'content-type': 'application/x-tar',
      'content-disposition': `attachment; filename="noderr-audit-${vault.uid}.tar"`,
    });
  })
  .openapi(fold, async (c) => {
    const r = await foldAuditLog(c.var.storage, await auditSigner(c.var.config));
    return c.json(r, 200);
  });
