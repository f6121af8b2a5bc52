import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BundleSize, buildDappSdk } from '../build.ts';

// The package as a consumer gets it: `npm run build:dapp` output in clients/dapp/dist.

const HERE = fileURLToPath(new URL('..', import.meta.url));
const ROOT = resolve(HERE, '../..');
const DIST = join(HERE, 'dist');
let size: BundleSize;

beforeAll(async () => {
  size = await buildDappSdk(DIST);
}, 60_000);

describe('package build', () => {
  it('is one plain ESM file whose only import is zod', () => {
    const code = readFileSync(join(DIST, 'index.js'), 'utf8');
    const specifiers = [...code.matchAll(/^\s*import\s[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    expect(new Set(specifiers)).toEqual(new Set(['zod']));
    expect(code).not.toMatch(/\.ts['"]/);
    expect(code).toMatch(/^export \{/m);
  });

  it('loads in Node 20 and exports the public API', async () => {
    const mod = (await import(pathToFileURL(join(DIST, 'index.js')).href)) as Record<string, unknown>;
    expect(Object.keys(mod).sort()).toEqual([
      'ApiError',
      'browserWebAuthn',
      'createDappClient',
      'isApiError',
    ]);
    const create = mod.createDappClient as (o: unknown) => Record<string, unknown>;
    const client = create({ baseUrl: 'http://127.0.0.1:1', accessToken: () => 'x' });
    expect(Object.keys(client).sort()).toEqual([
      'approvals',
      'ekAnchors',
      'installTokens',
      'nodes',
      'policies',
      'securityKeys',
      'sessionKeys',
    ]);
  });

  it('ships declarations a strict nodenext consumer type-checks against (types are not any)', () => {
    expect(existsSync(join(DIST, 'index.d.ts'))).toBe(true);
    const dir = join(DIST, 'consumer-check');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'consumer.ts'),
      [
        "import { ApiError, createDappClient, type IssuedInstallToken, type TierPolicy } from '../index.js';",
        "const dapp = createDappClient({ baseUrl: 'https://api.example', accessToken: async () => 'token' });",
        'export async function issue(): Promise<IssuedInstallToken> {',
        "  return dapp.installTokens.issue({ applicationId: crypto.randomUUID(), tier: 'ORACLE', os: 'linux' });",
        '}',
        "export const policy: Promise<TierPolicy> = dapp.policies.get('GUARDIAN');",
        "// @ts-expect-error: 'BOGUS' is not a tier",
        "export const wrong = dapp.policies.get('BOGUS');",
        'export const code = (e: ApiError): string => e.code;',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          lib: ['ES2022', 'DOM'],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], {
      encoding: 'utf8',
    });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);
  });

  it('reports its size: a few KiB min+gzip without zod', () => {
    expect(JSON.parse(readFileSync(join(DIST, 'size.json'), 'utf8'))).toEqual(size);
    expect(size.minifiedGzip).toBeGreaterThan(1000);
    expect(size.minifiedGzip).toBeLessThan(8 * 1024);
  });
});
