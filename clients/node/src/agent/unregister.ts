import { AgentError } from '../errors.ts';
import { evictControl } from '../tpm/objects.ts';
import { type AgentContext, withTpm } from './context.ts';
import { hexHandle, inspectHandle, type OwnedKey, recordedKeys } from './keys.ts';

/**
 * `unregister`: undoes on this machine what `register` did. In the TPM it evicts only the persistent
 * objects the agent's files record as its own and that are still there with the recorded Name (a
 * signing key, never the EK or a storage key: see inspectHandle); any other occupant of those handles is
 * left alone and reported. Then, unless `keepState`, it removes the agent's files from the state
 * directory. The API is not told: the node stays registered there until an admin revokes it.
 */
export interface UnregisterOptions {
  keepState: boolean;
}

export interface UnregisterResult {
  nodeId: string | null;
  apiUrl: string | null;
  /** Evicted from the TPM. */
  evicted: { role: OwnedKey['role']; handle: string; name: string }[];
  /** Recorded, but no longer in the TPM (nothing to do). */
  absent: { role: OwnedKey['role']; handle: string }[];
  /** Left in the TPM on purpose: the handle holds an object the agent did not create. */
  kept: { handle: string; name: string; reason: string }[];
  removedFiles: string[];
  stateDir: string;
  stateDirRemoved: boolean;
  stateKept: boolean;
  /** Said in every result: nothing here revokes the node at the API. */
  apiRegistration: string;
}

export async function unregister(
  ctx: Pick<AgentContext, 'store' | 'tpmSpec' | 'progress'>,
  o: UnregisterOptions,
): Promise<UnregisterResult> {
  const { store } = ctx;
  const state = store.readState();
  const pending = store.readPending();
  const record = store.readKeys();
  const creds = store.peekCredentials();
  if (!state && !pending && !record && !creds) {
    throw new AgentError('NOT_REGISTERED', `nothing to unregister: no agent state in ${store.dir}`, {
      stateDir: store.dir,
    });
  }
  const nodeId = state?.nodeId ?? pending?.state.nodeId ?? creds?.nodeId ?? null;
  const apiUrl = state?.apiUrl ?? pending?.state.apiUrl ?? null;
  const own = await recordedKeys(store);
  const handles = [...new Set(own.map((k) => k.handle))];

  const evicted: UnregisterResult['evicted'] = [];
  const absent: UnregisterResult['absent'] = [];
  const kept: UnregisterResult['kept'] = [];
  if (handles.length > 0) {
    ctx.progress(`Evicting the agent's keys from the TPM (${handles.map(hexHandle).join(', ')})`);
    await withTpm(ctx, async (tpm) => {
      for (const handle of handles) {
        const occ = await inspectHandle(tpm, handle, own);
        const role = own.find((k) => k.handle === handle)?.role ?? 'ak';
        if (occ.kind === 'empty') absent.push({ role, handle: hexHandle(handle) });
        else if (occ.kind === 'foreign') {
          kept.push({
            handle: hexHandle(handle),
            name: occ.name,
            reason: 'holds an object this agent did not create (its Name is not the recorded one)',
          });
        } else {
          await evictControl(tpm, handle, handle);
          evicted.push({ role: occ.role, handle: hexHandle(handle), name: occ.name });
        }
      }
    });
  }

  let removedFiles: string[] = [];
  let stateDirRemoved = false;
  if (!o.keepState) {
    ctx.progress(`Removing the agent's files from ${store.dir}`);
    ({ removed: removedFiles, directoryRemoved: stateDirRemoved } = store.removeAll());
  }
  return {
    nodeId,
    apiUrl,
    evicted,
    absent,
    kept,
    removedFiles,
    stateDir: store.dir,
    stateDirRemoved,
    stateKept: o.keepState,
    apiRegistration:
      state || creds?.nodeId
        ? `node ${nodeId} stays registered at the API until an admin revokes it`
        : pending
          ? `node ${nodeId} may have been activated by an interrupted registration; if the API lists it, an admin must revoke it`
          : 'no node was activated from this state; nothing is registered at the API for it',
  };
}
