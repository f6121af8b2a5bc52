import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
export const AGENT_BUNDLE = join(ROOT, 'clients/node/dist/noderr-agent.mjs');

/**
 * Builds the node agent bundle (served by the Worker from its static assets) unless it is already
 * there and newer than the sources' last change. The Worker's assets directory must exist before
 * `wrangler dev` or the vitest pool start.
 */
export function ensureAgentBundle(): void {
  if (existsSync(AGENT_BUNDLE) && existsSync(`${AGENT_BUNDLE}.sha256`)) {
    const built = statSync(AGENT_BUNDLE).mtimeMs;
    const newest = Number(
      execFileSync('bash', [
        '-c',
        `find "${ROOT}clients/node/src" "${ROOT}shared" -name '*.ts' -printf '%T@\\n' | sort -n | tail -1`,
      ])
        .toString()
        .trim(),
    );
    if (built / 1000 >= newest) return;
  }
  execFileSync(process.execPath, [join(ROOT, 'clients/node/build-agent.mjs')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
