import 'reflect-metadata';
import { env } from 'cloudflare:workers';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { auditSigner, foldAuditLog } from './services/audit-vault.ts';
import { openStorage } from './storage/open.ts';

// Validate the configuration when the Worker is loaded: a misconfigured deploy fails at upload
// (`wrangler deploy` runs the module's top level) instead of failing every request.
loadConfig(env);

const app = createApp();

export default {
  fetch: app.fetch,
  /**
   * The Cron Trigger (wrangler.toml `[triggers] crons`, every minute): folds queued audit rows, including
   * dashboard edits, into the signed audit log.
   */
  async scheduled(_controller, workerEnv, ctx) {
    const config = loadConfig(workerEnv);
    if (!config.AUDIT_SIGNING_KEY) return;
    const log = createLogger({ requestId: 'cron', method: 'CRON', path: 'audit-fold' });
    ctx.waitUntil(
      auditSigner(config)
        .then((signer) => foldAuditLog(openStorage(workerEnv), signer))
        .then((r) => log.info('audit.fold', { ...r }))
        .catch((e: unknown) =>
          log.error('audit.fold_failed', { error: e instanceof Error ? e.message : String(e) }),
        ),
    );
  },
} satisfies ExportedHandler<Env>;
