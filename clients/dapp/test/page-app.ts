import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildDappSdk } from '../build.ts';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/**
 * Builds the SDK into `outDir/dist` and bundles a page script that imports it, with zod, as a frontend
 * bundler would: the JavaScript the browser tests serve at /app.js.
 */
export async function buildPageApp(
  outDir: string,
  pageScript: (sdkPath: string) => string,
): Promise<Uint8Array> {
  await buildDappSdk(join(outDir, 'dist'));
  const bundle = await build({
    stdin: { contents: pageScript(join(outDir, 'dist/index.js')), resolveDir: outDir, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    nodePaths: [join(ROOT, 'node_modules')],
    write: false,
  });
  return bundle.outputFiles[0]?.contents ?? new Uint8Array();
}
