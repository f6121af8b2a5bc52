import { z } from 'zod';
import {
  ActionWithOptions,
  ApproveActionResponse,
  EnrolSecurityKeyResponse,
  PendingActionList,
  RegistrationOptionsResponse,
  SecurityKeyList,
} from '../../../shared/api/approvals.ts';
import { adminRequest, type RequestContext, validateInput } from './request.ts';
import type { AdminSecurityKey, PendingAction } from './types.ts';

const ActionId = z.object({ id: z.uuid() });
const Label = z.object({ label: z.string().min(1).max(200) });

/** The slice of the browser's WebAuthn API the SDK uses (`navigator.credentials` + `PublicKeyCredential`). */
export interface WebAuthnBrowser {
  create(options: Record<string, unknown>): Promise<Record<string, unknown>>;
  get(options: Record<string, unknown>): Promise<Record<string, unknown>>;
}

interface PublicKeyCredentialStatics {
  parseCreationOptionsFromJSON(o: unknown): unknown;
  parseRequestOptionsFromJSON(o: unknown): unknown;
}

/** The page's WebAuthn, through the JSON helpers of WebAuthn Level 3 (Chromium 129+, Firefox 119+, Safari 18+). */
export function browserWebAuthn(): WebAuthnBrowser {
  const g = globalThis as unknown as {
    PublicKeyCredential?: PublicKeyCredentialStatics;
    navigator?: { credentials?: { create(o: unknown): Promise<unknown>; get(o: unknown): Promise<unknown> } };
  };
  const pkc = g.PublicKeyCredential;
  const creds = g.navigator?.credentials;
  if (!pkc || !creds || typeof pkc.parseCreationOptionsFromJSON !== 'function') {
    throw new TypeError(
      'This environment has no WebAuthn with JSON helpers (PublicKeyCredential.parseCreationOptionsFromJSON).',
    );
  }
  const asJson = (c: unknown) => (c as { toJSON(): Record<string, unknown> }).toJSON();
  return {
    create: async (o) => asJson(await creds.create({ publicKey: pkc.parseCreationOptionsFromJSON(o) })),
    get: async (o) => asJson(await creds.get({ publicKey: pkc.parseRequestOptionsFromJSON(o) })),
  };
}

/** Enrolling administrators' FIDO2 security keys. */
export interface SecurityKeysApi {
  /** Every admin's enrolled keys, oldest first. */
  list(): Promise<{ items: AdminSecurityKey[] }>;
  /**
   * Enrols a security key for the signed-in admin: asks the API for creation options, lets the browser
   * talk to the key (a touch), and sends the result. While the quorum is not in force the key is active at
   * once (`action: null`); once it is, the key stays pending until `action` gets its approvals.
   *
   * @example
   * ```ts
   * const { key, action } = await dapp.securityKeys.enrol({ label: 'YubiKey 5C (desk)' });
   * ```
   */
  enrol(
    input: { label: string },
    webauthn?: WebAuthnBrowser,
  ): Promise<{ key: AdminSecurityKey; action: PendingAction | null }>;
}

/** Actions waiting for the approval quorum, and approving them with a security key. */
export interface ApprovalsApi {
  list(filter?: { status?: 'pending' | 'expired' | 'executed' }): Promise<{ items: PendingAction[] }>;
  get(id: string): Promise<{ action: PendingAction; assertionOptions: Record<string, unknown> }>;
  /** Has the signed-in admin's key sign the action's digest (a touch); returns the assertion, unsent. */
  sign(id: string, webauthn?: WebAuthnBrowser): Promise<Record<string, unknown>>;
  /** Sends an assertion made by {@link ApprovalsApi.sign}. `counted` is false when this admin had already approved. */
  submit(
    id: string,
    assertion: Record<string, unknown>,
  ): Promise<{ action: PendingAction; counted: boolean }>;
  /**
   * sign + submit. The action executes when its threshold is met (`action.status === 'executed'`).
   *
   * @example
   * ```ts
   * const pending = await dapp.nodes.setStatus(nodeId, { status: 'active', reason: 'BIOS update verified' });
   * if ('digest' in pending) await dapp.approvals.approve(pending.id); // then a second admin approves
   * ```
   */
  approve(id: string, webauthn?: WebAuthnBrowser): Promise<{ action: PendingAction; counted: boolean }>;
}

export function securityKeysApi(ctx: RequestContext): SecurityKeysApi {
  return {
    list: async () => adminRequest(ctx, { method: 'GET', path: '/security-keys', response: SecurityKeyList }),
    enrol: async (input, webauthn) => {
      const { label } = validateInput(Label, input);
      const { options } = await adminRequest(ctx, {
        method: 'POST',
        path: '/security-keys/registration-options',
        response: RegistrationOptionsResponse,
      });
      const response = await (webauthn ?? browserWebAuthn()).create(options);
      return adminRequest(ctx, {
        method: 'POST',
        path: '/security-keys',
        body: { label, response },
        response: EnrolSecurityKeyResponse,
      });
    },
  };
}

export function approvalsApi(ctx: RequestContext): ApprovalsApi {
  const path = (id: string) => `/approvals/${encodeURIComponent(validateInput(ActionId, { id }).id)}`;
  const api: ApprovalsApi = {
    list: async (filter = {}) =>
      adminRequest(ctx, {
        method: 'GET',
        path: '/approvals',
        query: { status: filter.status },
        response: PendingActionList,
      }),
    get: async (id) => adminRequest(ctx, { method: 'GET', path: path(id), response: ActionWithOptions }),
    sign: async (id, webauthn) => {
      const { assertionOptions } = await api.get(id);
      return (webauthn ?? browserWebAuthn()).get(assertionOptions);
    },
    submit: async (id, assertion) =>
      adminRequest(ctx, {
        method: 'POST',
        path: `${path(id)}/approve`,
        body: { response: assertion },
        response: ApproveActionResponse,
      }),
    approve: async (id, webauthn) => api.submit(id, await api.sign(id, webauthn)),
  };
  return api;
}
