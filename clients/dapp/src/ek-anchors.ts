import { z } from 'zod';
import { AddEkAnchorRequest, EkAnchorItem, EkAnchorList } from '../../../shared/api/admin.ts';
import { PendingActionView } from '../../../shared/api/approvals.ts';
import { adminRequest, type RequestContext, validateInput } from './request.ts';
import type { AddEkAnchorInput, EkAnchor, PendingAction } from './types.ts';

const AnchorId = z.object({ id: z.uuid() });

/** Extra EK trust anchors, in addition to the TPM manufacturers' CA bundle the Worker ships. */
export interface EkAnchorsApi {
  /**
   * Lists the extra EK trust anchors.
   *
   * @example
   * ```ts
   * const { items } = await dapp.ekAnchors.list();
   * ```
   */
  list(): Promise<{ items: EkAnchor[] }>;

  /**
   * Adds a CA certificate (PEM) as an EK trust anchor, e.g. a private cloud's vTPM CA. The same
   * certificate twice → `CONFLICT`; a PEM that is not one readable certificate → `VALIDATION_FAILED`.
   *
   * @example
   * ```ts
   * const anchor = await dapp.ekAnchors.add({ label: 'private cloud vTPM CA', pem: caPem });
   * ```
   */
  add(input: AddEkAnchorInput): Promise<EkAnchor | PendingAction>;

  /**
   * Deletes an anchor; an unknown id → `NOT_FOUND`.
   *
   * @example
   * ```ts
   * await dapp.ekAnchors.delete(anchor.id);
   * ```
   */
  delete(id: string): Promise<void>;
}

/**
 * The EK anchor methods over `ctx`.
 *
 * @example
 * ```ts
 * const anchors = ekAnchorsApi(ctx);
 * await anchors.list();
 * ```
 */
export function ekAnchorsApi(ctx: RequestContext): EkAnchorsApi {
  return {
    list: async () => adminRequest(ctx, { method: 'GET', path: '/ek-anchors', response: EkAnchorList }),
    add: async (input) =>
      adminRequest(ctx, {
        method: 'POST',
        path: '/ek-anchors',
        body: validateInput(AddEkAnchorRequest, input),
        response: z.union([PendingActionView, EkAnchorItem]),
      }),
    delete: async (id) =>
      adminRequest(ctx, {
        method: 'DELETE',
        path: `/ek-anchors/${encodeURIComponent(validateInput(AnchorId, { id }).id)}`,
        response: undefined,
      }),
  };
}
