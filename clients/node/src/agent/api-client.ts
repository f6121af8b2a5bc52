import type { z } from 'zod';
import { HeartbeatResponse } from '../../../../shared/api/heartbeat.ts';
import { InstallConfigResponse } from '../../../../shared/api/install.ts';
import { ActivateResponse, RegisterResponse } from '../../../../shared/api/registration.ts';
import { NodeChallengeResponse, VerifyResponse } from '../../../../shared/api/session.ts';
import { AgentError } from '../errors.ts';

/**
 * The node endpoints of API.md, with the shared zod schemas checking every answer. Failures are typed:
 * NODE_REVOKED / NODE_SUSPENDED (the daemon exits on them), API_UNREACHABLE (network errors, 5xx, 429:
 * worth retrying) and API_REJECTED carrying the API's own error code. Nothing secret goes into messages.
 */

type Schema<T> = z.ZodType<T>;

export interface ApiClientOptions {
  baseUrl: string;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

export class ApiClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(o: ApiClientOptions) {
    this.base = o.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.fetchImpl = o.fetchImpl ?? fetch;
  }

  private async post<T>(path: string, body: unknown, schema: Schema<T>, bearer?: string): Promise<T> {
    const url = `${this.base}/api/v1${path}`;
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
      throw new AgentError('API_UNREACHABLE', `POST ${path}: cannot reach ${this.base} (${cause})`, { path });
    }
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = (
        json as
          | {
              error?: { code?: string; message?: string; requestId?: string; details?: { reason?: unknown } };
            }
          | undefined
      )?.error;
      // The verifier's reason (ATTESTATION_INVALID) tells installers and operators which check failed.
      const reason = typeof err?.details?.reason === 'string' ? err.details.reason : undefined;
      const details = {
        path,
        status: res.status,
        apiCode: err?.code,
        requestId: err?.requestId,
        ...(reason ? { reason } : {}),
      };
      const message = `POST ${path}: ${res.status} ${err?.code ?? ''} ${err?.message ?? ''}`.trim();
      if (err?.code === 'NODE_REVOKED') throw new AgentError('NODE_REVOKED', message, details);
      if (err?.code === 'NODE_SUSPENDED') throw new AgentError('NODE_SUSPENDED', message, details);
      if (res.status >= 500 || res.status === 429 || !err)
        throw new AgentError('API_UNREACHABLE', message, details);
      throw new AgentError('API_REJECTED', message, details);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new AgentError(
        'API_RESPONSE_INVALID',
        `POST ${path}: the answer does not match the API contract`,
        {
          path,
          issues: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`),
        },
      );
    }
    return parsed.data;
  }

  installConfig(installToken: string) {
    return this.post('/install/config', { installToken }, InstallConfigResponse);
  }

  register(body: unknown) {
    return this.post('/auth/register', body, RegisterResponse);
  }

  activate(activationId: string, secret: string) {
    return this.post('/auth/activate', { activationId, secret }, ActivateResponse);
  }

  challenge(nodeId: string) {
    return this.post('/auth/challenge', { nodeId }, NodeChallengeResponse);
  }

  verify(body: { nodeId: string; apiKey: string; challenge: string; signature: string }) {
    return this.post('/auth/verify', body, VerifyResponse);
  }

  heartbeat(jwt: string, body: unknown) {
    return this.post('/auth/heartbeat', body, HeartbeatResponse, jwt);
  }
}
