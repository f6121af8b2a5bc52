import { VERIFY_SIGNATURE_PREFIX } from '../../../../shared/api/session.ts';
import { concatBytes, fromBase64, toBase64, utf8 } from '../../../../shared/encoding/bytes.ts';
import { AgentError } from '../errors.ts';
import { signMessage } from '../tpm/sign.ts';
import { type AgentContext, warnOf, withTpm } from './context.ts';
import { type EventLogReport, withEventLog } from './event-log.ts';
import { quoteWithPcrs } from './evidence.ts';
import type { AgentState } from './state.ts';
import { heartbeatMetrics } from './system-info.ts';

/**
 * Sessions and heartbeats: challenge → node-key signature in the TPM → verify gives a session JWT, which the
 * heartbeat presents. When the API asks for re-attestation (a nonce in the heartbeat answer), the agent
 * quotes the registration PCR selection over that nonce and answers at once with a second heartbeat, with
 * the boot event log (event-log.ts) when there is one.
 */

/** Renew the session a minute before it expires. */
const SESSION_MARGIN_MS = 60_000;

export async function openSession(ctx: AgentContext, state: AgentState): Promise<string> {
  const creds = ctx.store.readCredentials();
  const { nonce } = await ctx.api.challenge(state.nodeId);
  const nonceBytes = fromBase64(nonce);
  if (!nonceBytes)
    throw new AgentError('API_RESPONSE_INVALID', 'auth/challenge returned a nonce that is not base64');
  const message = concatBytes(utf8.encode(`${VERIFY_SIGNATURE_PREFIX}${state.nodeId}:`), nonceBytes);
  const { signature } = await withTpm(ctx, (tpm) => signMessage(tpm, state.nodeKeyHandle, message));
  const v = await ctx.api.verify({
    nodeId: state.nodeId,
    apiKey: creds.apiKey,
    challenge: nonce,
    signature: toBase64(signature),
  });
  ctx.store.writeCredentials({ ...creds, jwt: v.jwtToken, jwtExpiresAt: v.expiresAt });
  return v.jwtToken;
}

async function session(ctx: AgentContext, state: AgentState, renew: boolean): Promise<string> {
  const creds = ctx.store.readCredentials();
  const expires = creds.jwtExpiresAt ? Date.parse(creds.jwtExpiresAt) : 0;
  if (!renew && creds.jwt && expires - SESSION_MARGIN_MS > Date.now()) return creds.jwt;
  return openSession(ctx, state);
}

export interface HeartbeatResult {
  acknowledged: true;
  reattested: boolean;
  shouldUpdate: boolean;
  targetVersion: string;
  /** What was done with the boot event log, when this beat re-attested. */
  eventLog?: EventLogReport;
}

export async function heartbeatOnce(ctx: AgentContext, state: AgentState): Promise<HeartbeatResult> {
  let jwt = await session(ctx, state, false);
  const send = async (body: Record<string, unknown>) => {
    try {
      return await ctx.api.heartbeat(jwt, body);
    } catch (e) {
      // A session the server no longer accepts (expired early, keys rotated): open a new one, once.
      if (e instanceof AgentError && e.code === 'API_REJECTED' && e.details?.apiCode === 'SESSION_INVALID') {
        jwt = await session(ctx, state, true);
        return ctx.api.heartbeat(jwt, body);
      }
      throw e;
    }
  };
  let res = await send({ nodeId: state.nodeId, metrics: heartbeatMetrics() });
  let reattested = false;
  let eventLog: EventLogReport | undefined;
  if (res.attestation.required && res.attestation.nonce) {
    const nonce = fromBase64(res.attestation.nonce);
    if (!nonce) throw new AgentError('API_RESPONSE_INVALID', 'heartbeat returned a nonce that is not base64');
    ctx.progress('Re-attestation requested: quoting PCRs over the nonce');
    const q = await withTpm(ctx, (tpm) => quoteWithPcrs(tpm, state.akHandle, nonce, state.pcrSelection));
    // The whole body is built before the log is added, so the size rule measures what is sent.
    const answer = await withEventLog(
      {
        nodeId: state.nodeId,
        metrics: heartbeatMetrics(),
        attestation: {
          nonce: res.attestation.nonce,
          quote: toBase64(q.attest),
          signature: toBase64(q.signature),
          pcrValues: q.pcrValues,
        },
      },
      ctx.eventLog ?? state.eventLog ?? 'default',
      { warn: warnOf(ctx), progress: ctx.progress },
    );
    res = await send(answer.body);
    reattested = true;
    eventLog = answer.report;
    ctx.store.updateStatus({ lastAttestationAt: new Date().toISOString() });
  }
  ctx.store.updateStatus({ lastHeartbeatAt: new Date().toISOString(), nodeStatus: 'active' });
  return {
    acknowledged: true,
    reattested,
    shouldUpdate: res.shouldUpdate,
    targetVersion: res.targetVersion,
    ...(eventLog ? { eventLog } : {}),
  };
}
