/**
 * `npm run bench`: the project's benchmarks, printed with the machine they ran on. Timings are means
 * over many calls on a warm process; the figures in the README and issue notes come from here.
 */
import { cpus, totalmem } from 'node:os';
import { benchProvaraWithSoftHsm } from '../clients/node/src/provara/bench-softhsm.ts';
import { benchMakeCredential, benchVerifyEkCertificate } from '../shared/tpm2/bench/credential.bench.ts';
import { benchVerifyQuote } from '../shared/tpm2/bench/verify-quote.bench.ts';
import { benchEventLog } from '../shared/tpm2/eventlog/bench.ts';
import { benchHeartbeat } from '../supabase/bench/heartbeat.bench.ts';
import { benchApi } from './bench/api.bench.ts';
import { applyMigrations } from './lib/migrations.ts';
import { startPostgresServer } from './lib/postgres-server.ts';

type Bench = [name: string, run: () => Promise<Record<string, number>>];

const only = process.argv.slice(2);
const benches: Bench[] = [
  ['tpm2: verifyQuote vs bare WebCrypto', benchVerifyQuote],
  ['tpm2: makeCredential', benchMakeCredential],
  ['tpm2: verifyEkCertificate', benchVerifyEkCertificate],
  ['tpm2: event log parse + replay (GCE log)', benchEventLog],
  ['provara: software Ed25519, session path, SoftHSM2, 10,000-event vault verify', benchProvaraWithSoftHsm],
  [
    'database: heartbeat function (PostgreSQL 15, 10,000 nodes)',
    async () => {
      const pg = await startPostgresServer();
      try {
        await applyMigrations(pg.url, { localPlatform: true });
        return await benchHeartbeat(pg.url);
      } finally {
        pg.stop();
      }
    },
  ],
  ['api: wrangler dev + PostgreSQL 15 + swtpm', () => benchApi()],
];

const cpu = cpus()[0];
console.log(
  `machine: ${cpu?.model ?? 'unknown CPU'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`,
);
for (const [name, run] of benches) {
  if (only.length && !only.some((o) => name.includes(o))) continue;
  const t0 = performance.now();
  const result = await run();
  console.log(`\n${name}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  for (const [k, v] of Object.entries(result)) console.log(`  ${k.padEnd(48)} ${v}`);
}
