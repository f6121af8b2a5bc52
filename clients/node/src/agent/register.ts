import { fromBase64, toBase64 } from '../../../../shared/encoding/bytes.ts';
import { ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import { AgentError } from '../errors.ts';
import { activateCredential } from '../tpm/activation.ts';
import { certify } from '../tpm/attestation.ts';
import { tpmInfo } from '../tpm/capability.ts';
import { createEk, fetchEkCertificate, hasEkCertificate, readEkCertificate } from '../tpm/ek.ts';
import { flushContext } from '../tpm/sessions.ts';
import type { EkKind } from '../tpm/templates.ts';
import { type AgentContext, withTpm } from './context.ts';
import { quoteWithPcrs } from './evidence.ts';
import {
  createAgentKeys,
  DEFAULT_AK_HANDLE,
  DEFAULT_NODE_KEY_HANDLE,
  public2bBase64,
  spkiPemAndNodeId,
} from './keys.ts';
import type { AgentState } from './state.ts';
import { systemInfo } from './system-info.ts';

/**
 * Registration, the protocol of ARCHITECTURE.md: install/config → EK, AK and node key in the TPM, quote
 * and certify over the nonce → register → ActivateCredential → activate. State and credentials are written
 * only once activation succeeded, so a failed attempt leaves no half-registered node behind (the install
 * token is not consumed either: the API consumes it at activation only).
 */
export interface RegisterOptions {
  installToken: string;
  apiUrl: string;
  ek: EkKind | 'auto';
  force: boolean;
  heartbeatIntervalSeconds: number;
  akHandle?: number;
  nodeKeyHandle?: number;
}

export interface RegisterResult {
  nodeId: string;
  tier: string;
  ekKind: EkKind;
  ekCertificate: 'nv' | 'manufacturer' | 'none';
  akHandle: number;
  nodeKeyHandle: number;
  stateDir: string;
}

export async function register(ctx: AgentContext, o: RegisterOptions): Promise<RegisterResult> {
  if (ctx.store.exists() && !o.force) {
    const s = ctx.store.readState();
    throw new AgentError(
      'ALREADY_REGISTERED',
      `this agent is already registered as ${s?.nodeId ?? '?'} (state in ${ctx.store.dir}); use --force to register again`,
    );
  }
  const akHandle = o.akHandle ?? DEFAULT_AK_HANDLE;
  const nodeKeyHandle = o.nodeKeyHandle ?? DEFAULT_NODE_KEY_HANDLE;

  ctx.progress('Asking the API for the install configuration and a challenge');
  const config = await ctx.api.installConfig(o.installToken);
  const nonce = fromBase64(config.challenge.nonce);
  if (!nonce)
    throw new AgentError('API_RESPONSE_INVALID', 'install/config returned a nonce that is not base64');
  const pcrSelection = config.attestation.pcrSelection as Record<string, number[]>;

  return withTpm(ctx, async (tpm) => {
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
      const keys = await createAgentKeys(tpm, akHandle, nodeKeyHandle);
      const { pem, nodeId } = await spkiPemAndNodeId(keys.nodeKey);

      ctx.progress('Quoting PCRs and certifying the node key over the challenge');
      const q = await quoteWithPcrs(tpm, akHandle, nonce, pcrSelection);
      const cert = await certify(tpm, nodeKeyHandle, akHandle, nonce);

      ctx.progress('Sending the evidence to the API');
      const registered = await ctx.api.register({
        installToken: o.installToken,
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
      });

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
      const activated = await ctx.api.activate(registered.activationId, toBase64(secret));
      if (activated.nodeId !== nodeId) {
        throw new AgentError(
          'API_RESPONSE_INVALID',
          `the API named the node ${activated.nodeId}, expected ${nodeId}`,
        );
      }

      const state: AgentState = {
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
        registeredAt: new Date().toISOString(),
      };
      ctx.store.writeCredentials({
        apiKey: activated.apiKey,
        jwt: activated.jwtToken,
        jwtExpiresAt: activated.expiresAt,
      });
      ctx.store.writeState(state);
      ctx.progress(`Registered as ${nodeId}`);
      return {
        nodeId,
        tier: config.tier,
        ekKind,
        ekCertificate: ekCertSource,
        akHandle,
        nodeKeyHandle,
        stateDir: ctx.store.dir,
      };
    } finally {
      await flushContext(tpm, ek.handle).catch(() => undefined);
    }
  });
}
