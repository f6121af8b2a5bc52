import { fromBase64, toBase64 } from '../../../../shared/encoding/bytes.ts';
import { ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import { AgentError } from '../errors.ts';
import { activateCredential } from '../tpm/activation.ts';
import { certify } from '../tpm/attestation.ts';
import { tpmInfo } from '../tpm/capability.ts';
import { createEk, fetchEkCertificate, hasEkCertificate, readEkCertificate } from '../tpm/ek.ts';
import { flushContext } from '../tpm/sessions.ts';
import type { EkKind } from '../tpm/templates.ts';
import type { ApiClient } from './api-client.ts';
import { type AgentContext, apiClient, warnOf, withTpm } from './context.ts';
import { type EventLogReport, withEventLog } from './event-log.ts';
import { quoteWithPcrs } from './evidence.ts';
import {
  checkKeyHandles,
  createAgentKeys,
  DEFAULT_AK_HANDLE,
  DEFAULT_NODE_KEY_HANDLE,
  public2bBase64,
  recordedKeys,
  spkiPemAndNodeId,
} from './keys.ts';
import type { PendingActivation } from './state.ts';
import { systemInfo } from './system-info.ts';

/**
 * Registration, the protocol of ARCHITECTURE.md: install/config → EK, AK and node key in the TPM, quote
 * and certify over the nonce → register → ActivateCredential → activate. State and credentials are written
 * only once activation succeeded, so a failed attempt leaves no half-registered node behind (the install
 * token is not consumed either: the API consumes it at activation only).
 *
 * `/auth/activate` is the one step that cannot be repeated: it consumes the token and answers with the API
 * key once. So the agent writes `pending-activation.json` before calling it and the credentials right
 * after (both atomic), and a later `register` finishes a pending activation before anything else: it calls
 * activate again, and if the API no longer knows the activation it asks whether the node exists, to tell
 * "expired unused" (register afresh) from "activated, credentials lost" (REGISTRATION_LOST).
 */

/** TEST ONLY (`NODERR_TEST_ONLY_KILL_AT`): where `register` SIGKILLs itself, to prove the recovery. */
export const TEST_ONLY_KILL_POINTS = ['before-activate', 'after-activate', 'after-credentials'] as const;
export type TestOnlyKillPoint = (typeof TEST_ONLY_KILL_POINTS)[number];

export interface RegisterOptions {
  /** Needed unless a pending activation is finished (then the token was already presented). */
  installToken: string | undefined;
  apiUrl: string;
  ek: EkKind | 'auto';
  force: boolean;
  heartbeatIntervalSeconds: number;
  /** Where the boot event log comes from (`default`, `none`, a file); recorded in the state. */
  eventLog: string;
  akHandle?: number;
  nodeKeyHandle?: number;
  /** TEST ONLY: kill this process (SIGKILL, as a crash or power loss would) at the named point. */
  testOnlyKillAt?: TestOnlyKillPoint;
}

export interface RegisterResult {
  nodeId: string;
  tier: string;
  ekKind: EkKind;
  ekCertificate: 'nv' | 'manufacturer' | 'none';
  akHandle: number;
  nodeKeyHandle: number;
  stateDir: string;
  /** True when this run finished an activation an earlier, interrupted run had started. */
  resumed: boolean;
  /** What was done with the boot event log (absent when an interrupted registration was finished). */
  eventLog?: EventLogReport;
}

function testOnlyKill(o: RegisterOptions, at: TestOnlyKillPoint): void {
  if (o.testOnlyKillAt === at) process.kill(process.pid, 'SIGKILL');
}

export async function register(ctx: AgentContext, o: RegisterOptions): Promise<RegisterResult> {
  const pending = ctx.store.readPending();
  if (pending) {
    const done = await resumeActivation(ctx, o, pending);
    if (done) return done;
  }
  if (ctx.store.exists() && !o.force) {
    const s = ctx.store.readState();
    throw new AgentError(
      'ALREADY_REGISTERED',
      `this agent is already registered as ${s?.nodeId ?? '?'} (state in ${ctx.store.dir}); use --force to register again`,
      { nodeId: s?.nodeId, stateDir: ctx.store.dir },
    );
  }
  if (!o.installToken)
    throw new AgentError(
      'USAGE',
      'register needs the install token (NODERR_INSTALL_TOKEN, - for stdin, or an argument)',
    );
  return registerAfresh(ctx, o, o.installToken);
}

/** Writes the credentials (first: they are what cannot be had again), then the state; drops the pending file. */
function completeActivation(
  ctx: AgentContext,
  o: RegisterOptions,
  p: PendingActivation,
  activated: { nodeId: string; apiKey: string; jwtToken: string; expiresAt: string },
  resumed: boolean,
): RegisterResult {
  if (activated.nodeId !== p.state.nodeId) {
    throw new AgentError(
      'API_RESPONSE_INVALID',
      `the API named the node ${activated.nodeId}, expected ${p.state.nodeId}`,
    );
  }
  ctx.store.writeCredentials({
    nodeId: activated.nodeId,
    apiKey: activated.apiKey,
    jwt: activated.jwtToken,
    jwtExpiresAt: activated.expiresAt,
  });
  testOnlyKill(o, 'after-credentials');
  return finishFromPending(ctx, p, resumed);
}

function finishFromPending(ctx: AgentContext, p: PendingActivation, resumed: boolean): RegisterResult {
  ctx.store.writeState({ ...p.state, registeredAt: new Date().toISOString() });
  ctx.store.deletePending();
  ctx.progress(`Registered as ${p.state.nodeId}`);
  return {
    nodeId: p.state.nodeId,
    tier: p.state.tier,
    ekKind: p.state.ekKind,
    ekCertificate: p.ekCertificate,
    akHandle: p.state.akHandle,
    nodeKeyHandle: p.state.nodeKeyHandle,
    stateDir: ctx.store.dir,
    resumed,
  };
}

/** Whether a node exists at the API: auth/challenge answers for any node that is not revoked. */
async function nodeFate(api: ApiClient, nodeId: string): Promise<'absent' | 'revoked' | 'exists'> {
  try {
    await api.challenge(nodeId);
    return 'exists';
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    if (e.code === 'NODE_REVOKED') return 'revoked';
    if (e.code === 'NODE_SUSPENDED') return 'exists';
    if (e.code === 'API_REJECTED' && e.details?.apiCode === 'NODE_NOT_FOUND') return 'absent';
    throw e;
  }
}

/**
 * Finishes the activation an interrupted run left pending. Returns the result when it is done, undefined
 * when the pending activation is settled without a node for this machine (expired unused, or the node it
 * made has been revoked) and a fresh registration should follow.
 */
async function resumeActivation(
  ctx: AgentContext,
  o: RegisterOptions,
  p: PendingActivation,
): Promise<RegisterResult | undefined> {
  const { nodeId } = p.state;
  ctx.progress(`Finishing the interrupted registration of ${nodeId} (activation ${p.activationId})`);
  // The interrupted run may have saved the credentials and died before the state.
  if (ctx.store.peekCredentials()?.nodeId === nodeId) return finishFromPending(ctx, p, true);
  const api = p.state.apiUrl === o.apiUrl ? ctx.api : apiClient(p.state.apiUrl);
  let activated: Awaited<ReturnType<ApiClient['activate']>>;
  try {
    activated = await api.activate(p.activationId, p.secret);
  } catch (e) {
    // Unreachable API: the pending activation stays; the next run tries again.
    if (!(e instanceof AgentError) || e.code !== 'API_REJECTED') throw e;
    if (e.details?.apiCode !== 'ACTIVATION_NOT_FOUND') {
      ctx.store.deletePending(); // refused for good (token used, revoked, expired…): it can never complete
      throw e;
    }
    const fate = await nodeFate(api, nodeId);
    if (fate === 'exists') {
      throw new AgentError(
        'REGISTRATION_LOST',
        `the API activated node ${nodeId} during an interrupted registration, but its credentials never reached this machine and cannot be recovered. An admin must revoke node ${nodeId} and issue a new install token; then run register again with the new token`,
        { nodeId, activationId: p.activationId, apiUrl: p.state.apiUrl },
      );
    }
    ctx.progress(
      fate === 'revoked'
        ? `Node ${nodeId} of the interrupted registration has been revoked; registering afresh`
        : 'The interrupted activation expired unused; registering afresh',
    );
    ctx.store.deletePending();
    return undefined;
  }
  return completeActivation(ctx, o, p, activated, true);
}

async function registerAfresh(
  ctx: AgentContext,
  o: RegisterOptions,
  installToken: string,
): Promise<RegisterResult> {
  const akHandle = o.akHandle ?? DEFAULT_AK_HANDLE;
  const nodeKeyHandle = o.nodeKeyHandle ?? DEFAULT_NODE_KEY_HANDLE;
  const own = await recordedKeys(ctx.store);

  return withTpm(ctx, async (tpm) => {
    // Before the API is asked anything: are the two handles free, or the agent's own?
    await checkKeyHandles(tpm, [akHandle, nodeKeyHandle], own, o.force);

    ctx.progress('Asking the API for the install configuration and a challenge');
    const config = await ctx.api.installConfig(installToken);
    const nonce = fromBase64(config.challenge.nonce);
    if (!nonce)
      throw new AgentError('API_RESPONSE_INVALID', 'install/config returned a nonce that is not base64');
    const pcrSelection = config.attestation.pcrSelection as Record<string, number[]>;

    const info = await tpmInfo(tpm);
    ctx.progress(`TPM: ${info.manufacturer} firmware ${info.firmwareVersion}`);
    let ekKind: EkKind;
    if (o.ek === 'auto') {
      ekKind = (await hasEkCertificate(tpm, 'ecc'))
        ? 'ecc'
        : (await hasEkCertificate(tpm, 'rsa'))
          ? 'rsa'
          : 'rsa';
    } else ekKind = o.ek;

    ctx.progress(`Creating the ${ekKind.toUpperCase()} endorsement key (TCG default template)`);
    const ek = await createEk(tpm, ekKind);
    try {
      let ekCert = await readEkCertificate(tpm, ekKind, Math.min(info.nvBufferMax, 1024));
      let ekCertSource: RegisterResult['ekCertificate'] = ekCert ? 'nv' : 'none';
      if (!ekCert) {
        ctx.progress(`No EK certificate in NV; asking the manufacturer (${info.manufacturer})`);
        try {
          ekCert = await fetchEkCertificate(info.manufacturer, ek);
          ekCertSource = 'manufacturer';
        } catch (e) {
          if (config.attestation.requireEkCertificate) throw e;
          ctx.progress(`Continuing without an EK certificate (${(e as Error).message})`);
        }
      }

      ctx.progress(
        `Creating the attestation key and node key (persistent 0x${akHandle.toString(16)}, 0x${nodeKeyHandle.toString(16)})`,
      );
      const keys = await createAgentKeys(tpm, akHandle, nodeKeyHandle, {
        own,
        force: o.force,
        progress: ctx.progress,
        recordKeys: (made) =>
          ctx.store.writeKeys({
            version: 1,
            tpm: ctx.tpmSpec,
            createdAt: new Date().toISOString(),
            keys: made,
          }),
      });
      const { pem, nodeId } = await spkiPemAndNodeId(keys.nodeKey);

      ctx.progress('Quoting PCRs and certifying the node key over the challenge');
      const q = await quoteWithPcrs(tpm, akHandle, nonce, pcrSelection);
      const cert = await certify(tpm, nodeKeyHandle, akHandle, nonce);

      const evidence = await withEventLog(
        {
          installToken,
          publicKey: pem,
          attestation: {
            nonce: config.challenge.nonce,
            ekPublic: toBase64(new ByteWriter().tpm2b(ek.publicArea).finish()),
            ...(ekCert ? { ekCertificate: toBase64(ekCert) } : {}),
            akPublic: public2bBase64(keys.ak),
            quote: toBase64(q.attest),
            signature: toBase64(q.signature),
            pcrValues: q.pcrValues,
            nodeKeyCertification: {
              publicArea: public2bBase64(keys.nodeKey),
              certifyInfo: toBase64(cert.attest),
              signature: toBase64(cert.signature),
            },
          },
          systemInfo: systemInfo(),
        },
        o.eventLog,
        { warn: warnOf(ctx), progress: ctx.progress },
      );
      ctx.progress('Sending the evidence to the API');
      const registered = await ctx.api.register(evidence.body);

      ctx.progress('Activating the credential in the TPM (EK + AK)');
      const blob = fromBase64(registered.credentialBlob);
      const secretIn = fromBase64(registered.encryptedSecret);
      if (!blob || !secretIn)
        throw new AgentError('API_RESPONSE_INVALID', 'register returned non-base64 credential data');
      const secret = await activateCredential(tpm, {
        akHandle,
        ekHandle: ek.handle,
        credentialBlob: blob,
        encryptedSecret: secretIn,
      });
      const pending: PendingActivation = {
        version: 1,
        activationId: registered.activationId,
        secret: toBase64(secret),
        expiresAt: registered.expiresAt,
        ekCertificate: ekCertSource,
        state: {
          version: 1,
          apiUrl: o.apiUrl,
          nodeId,
          tier: config.tier,
          tpm: ctx.tpmSpec,
          ekKind,
          akHandle,
          nodeKeyHandle,
          akPublic: public2bBase64(keys.ak),
          nodeKeyPublic: public2bBase64(keys.nodeKey),
          publicKeyPem: pem,
          pcrSelection,
          heartbeatIntervalSeconds: o.heartbeatIntervalSeconds,
          eventLog: o.eventLog,
        },
      };
      ctx.store.writePending(pending);
      testOnlyKill(o, 'before-activate');
      let activated: Awaited<ReturnType<ApiClient['activate']>>;
      try {
        activated = await ctx.api.activate(registered.activationId, pending.secret);
      } catch (e) {
        // A refusal is final (nothing was activated); anything else may have reached the API: keep the
        // pending activation for the next run to settle.
        if (e instanceof AgentError && e.code === 'API_REJECTED') ctx.store.deletePending();
        throw e;
      }
      testOnlyKill(o, 'after-activate');
      return { ...completeActivation(ctx, o, pending, activated, false), eventLog: evidence.report };
    } finally {
      await flushContext(tpm, ek.handle).catch(() => undefined);
    }
  });
}
