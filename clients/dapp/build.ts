import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/**
 * Builds the package: `dist/index.js` (plain ESM, one file, `zod` left as a dependency), its source
 * map, and type declarations under `dist/types` re-exported by `dist/index.d.ts`. Reports sizes.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const ENTRY = join(HERE, 'src/index.ts');

/** Bytes of the package bundle, minified, minified+gzip, and minified+gzip with zod bundled in. */
export interface BundleSize {
  esm: number;
  minified: number;
  minifiedGzip: number;
  withZodMinifiedGzip: number;
}

async function minifiedSize(external: string[]): Promise<{ minified: number; gzip: number }> {
  const out = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external,
    minify: true,
    write: false,
    legalComments: 'none',
  });
  const code = out.outputFiles[0]?.contents ?? new Uint8Array();
  return { minified: code.byteLength, gzip: gzipSync(code, { level: 9 }).byteLength };
}

/** Rewrites relative `.ts` specifiers in emitted declarations to `.js`, which consumers resolve. */
function rewriteDeclarationSpecifiers(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) rewriteDeclarationSpecifiers(path);
    else if (name.endsWith('.d.ts')) {
      const text = readFileSync(path, 'utf8');
      writeFileSync(path, text.replace(/(from\s+['"]\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1.js$2'));
    }
  }
}

/**
 * Builds the SDK into `outDir` (default `clients/dapp/dist`) and returns the bundle sizes.
 *
 * @example
 * ```ts
 * const size = await buildDappSdk();
 * console.log(`${size.minifiedGzip} bytes min+gz`);
 * ```
 */
export async function buildDappSdk(outDir: string = join(HERE, 'dist')): Promise<BundleSize> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const esm = await build({
    entryPoints: [ENTRY],
    outfile: join(outDir, 'index.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['zod'],
    sourcemap: true,
    legalComments: 'none',
    metafile: true,
  });
  const typesDir = join(outDir, 'types');
  const tsc = spawnSync(
    join(ROOT, 'node_modules/.bin/tsc'),
    ['-p', join(HERE, 'tsconfig.build.json'), '--outDir', typesDir],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (tsc.status !== 0) throw new Error(`declarations failed:\n${tsc.stdout}${tsc.stderr}`);
  rewriteDeclarationSpecifiers(typesDir);
  writeFileSync(join(outDir, 'index.d.ts'), "export * from './types/clients/dapp/src/index.js';\n");

  const lean = await minifiedSize(['zod']);
  const full = await minifiedSize([]);
  const size: BundleSize = {
    esm: Object.values(esm.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0,
    minified: lean.minified,
    minifiedGzip: lean.gzip,
    withZodMinifiedGzip: full.gzip,
  };
  writeFileSync(join(outDir, 'size.json'), `${JSON.stringify(size, null, 2)}\n`);
  return size;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const size = await buildDappSdk();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  process.stdout.write(
    `dist/index.js ${kb(size.esm)} (ESM, zod external); minified ${kb(size.minified)}, ` +
      `min+gzip ${kb(size.minifiedGzip)}; with zod bundled min+gzip ${kb(size.withZodMinifiedGzip)}\n`,
  );
}
