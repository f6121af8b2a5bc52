// Bundles the agent into one ESM file that runs on plain Node 20 with no node_modules:
//   clients/node/dist/noderr-agent.mjs  (+ .sha256 beside it)
// koffi stays external: it is a native module, needed only by the Windows TBS transport, which loads it
// from a node_modules next to the bundle (README). Everything else (zod, @peculiar/x509, the shared codec)
// is inlined. esbuild comes with wrangler; it is not a separate dependency.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(here, 'dist', 'noderr-agent.mjs');
const result = await build({
  entryPoints: [join(here, 'src', 'cli', 'entry.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['koffi'],
  minify: true,
  legalComments: 'eof',
  metafile: true,
  // Bundled CommonJS dependencies may call require(); give the ESM bundle one.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __noderrCreateRequire } from 'node:module';\nconst require = __noderrCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
const bytes = readFileSync(outfile);
const sha256 = createHash('sha256').update(bytes).digest('hex');
writeFileSync(`${outfile}.sha256`, `${sha256}  noderr-agent.mjs\n`);
console.log(
  JSON.stringify({
    outfile,
    bytes: bytes.length,
    sha256,
    inputs: Object.keys(result.metafile.inputs).length,
  }),
);
