import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import type { Storage } from '../../functions/src/storage/port.ts';
import { createPostgresStorage } from '../../functions/src/storage/postgres.ts';

/**
 * Heartbeat cost on a migrated database (local PostgreSQL 15 under `npm run bench`):
 *
 * 1. Throughput: `record_heartbeat` calls per second through the postgres adapter (one round trip per
 *    heartbeat), from a few concurrent connections, on random nodes of a 10,000-node fleet, with the
 *    latency percentiles of those calls — for a steady fleet (no call writes) and when every call writes.
 * 2. Write coalescing: nodes beat every 60 s; how many node rows are written per 1,000 heartbeats for
 *    a given `last_seen` write interval. Waiting real minutes is not an option, so time is simulated:
 *    after each round of heartbeats every node's `last_seen` is moved 60 s into the past (a bench-only
 *    direct UPDATE, outside the measurement). Nodes start at random phases and one interval of warm-up
 *    rounds is run first, so the counted rounds are the steady state. Rows written are counted twice,
 *    independently: from the function's `last_seen_written` flag and from the rows whose physical
 *    version (ctid) changed.
 *
 * Seeding inserts bench nodes directly (not via registration: 10,000 TPM attestations are not what is
 * measured here), tagged with a per-run application id so the bench can run on any migrated database.
 */
export interface HeartbeatBenchOptions {
  nodes?: number;
  connections?: number;
  durationMs?: number;
  /** Write intervals (seconds) to measure coalescing for; the heartbeat period is 60 s. */
  writeIntervals?: number[];
  coalescingNodes?: number;
  rounds?: number;
}

const HEARTBEAT_PERIOD_SECONDS = 60;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export async function benchHeartbeat(
  databaseUrl: string,
  options: HeartbeatBenchOptions = {},
): Promise<Record<string, number>> {
  const nodes = options.nodes ?? 10_000;
  const connections = options.connections ?? 4;
  const durationMs = options.durationMs ?? 5_000;
  const writeIntervals = options.writeIntervals ?? [60, 300, 600];
  const coalescingNodes = Math.min(options.coalescingNodes ?? 1_000, nodes);
  const rounds = options.rounds ?? 10;

  const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const run = crypto.randomUUID();
  const storages: Storage[] = [];
  try {
    // Seed the fleet.
    const seedStart = performance.now();
    await admin.begin(async (tx) => {
      await tx`
        insert into public.install_tokens (token_hash, application_id, tier, os, is_used, used_at)
        select encode(extensions.digest(${run} || ':token:' || g, 'sha256'), 'hex'), ${run}::uuid, 'ALL', 'linux', true, now()
        from generate_series(1, ${nodes}) as g`;
      await tx`
        insert into public.node_identities (node_id, public_key, tier, os, install_token_id, ek_fingerprint, ak_public,
          ak_name, pcr_baseline, policy_version, attestation_due_at)
        select '0x' || encode(extensions.digest(t.token_hash || ':node', 'sha256'), 'hex'),
               '-----BEGIN PUBLIC KEY-----bench', 'ALL', 'linux', t.id,
               encode(extensions.digest(t.token_hash || ':ek', 'sha256'), 'hex'), 'AAAA', '000b',
               '{"sha256": {"0": "00"}}', 1, now() + interval '1 day'
        from public.install_tokens t where t.application_id = ${run}::uuid`;
    });
    const seedMs = performance.now() - seedStart;
    const ids = (
      await admin<{ node_id: string }[]>`
        select n.node_id from public.node_identities n
        join public.install_tokens t on t.id = n.install_token_id
        where t.application_id = ${run}::uuid order by n.node_id`
    ).map((r) => r.node_id);

    // 1. Throughput through the adapter: one round trip per heartbeat.
    for (let i = 0; i < connections; i++) storages.push(createPostgresStorage(databaseUrl));
    await Promise.all(storages.map((s) => s.ping()));
    // Two bounds: a steady fleet (every node wrote within the interval: no call writes) and the worst
    // case (write interval 0: every call writes its row).
    const measure = async (minWriteIntervalSeconds: number) => {
      const latencies: number[] = [];
      let written = 0;
      const deadline = performance.now() + durationMs;
      const started = performance.now();
      await Promise.all(
        storages.map(async (s) => {
          while (performance.now() < deadline) {
            const nodeId = ids[Math.floor(Math.random() * ids.length)]!;
            const t0 = performance.now();
            const r = await s.recordHeartbeat({
              nodeId,
              metrics: { uptime: 1, cpu: 12.5, memory: 40.1, version: '0.1.0' },
              minWriteIntervalSeconds,
            });
            latencies.push(performance.now() - t0);
            if (r.lastSeenWritten) written++;
          }
        }),
      );
      const elapsedS = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      return {
        perSecond: Math.round(latencies.length / elapsedS),
        p50: round2(percentile(latencies, 50)),
        p99: round2(percentile(latencies, 99)),
        writtenShare: round2(written / latencies.length),
      };
    };
    await admin`update public.node_identities set last_seen = now() where node_id = any(${ids})`;
    const steady = await measure(300);
    const writing = await measure(0);

    const result: Record<string, number> = {
      heartbeat_fleet_nodes: nodes,
      heartbeat_seed_ms: Math.round(seedMs),
      heartbeat_connections: connections,
      heartbeat_calls_per_second_steady: steady.perSecond,
      heartbeat_p50_ms_steady: steady.p50,
      heartbeat_p99_ms_steady: steady.p99,
      heartbeat_written_share_steady: steady.writtenShare,
      heartbeat_calls_per_second_every_call_writes: writing.perSecond,
      heartbeat_p50_ms_every_call_writes: writing.p50,
      heartbeat_p99_ms_every_call_writes: writing.p99,
    };

    // 2. Write coalescing with a 60 s heartbeat period and simulated time.
    const sample = ids.slice(0, coalescingNodes);
    const [hb] = storages;
    for (const interval of writeIntervals) {
      // Nodes start at random phases: each last wrote somewhere within the last interval.
      await admin`
        update public.node_identities set last_seen = now() - random() * make_interval(secs => ${interval})
        where node_id = any(${sample})`;
      let reported = 0;
      let changed = 0;
      // Warm-up rounds (one interval's worth) reach the steady state and are not counted.
      const warmup = Math.ceil(interval / HEARTBEAT_PERIOD_SECONDS);
      for (let round = -warmup; round < rounds; round++) {
        const counted = round >= 0;
        const before = new Map(
          (
            await admin<{ node_id: string; ctid: string }[]>`
              select node_id, ctid::text as ctid from public.node_identities where node_id = any(${sample})`
          ).map((r) => [r.node_id, r.ctid]),
        );
        for (const nodeId of sample) {
          const r = await hb!.recordHeartbeat({
            nodeId,
            metrics: { uptime: round },
            minWriteIntervalSeconds: interval,
          });
          if (r.lastSeenWritten && counted) reported++;
        }
        const after = await admin<{ node_id: string; ctid: string }[]>`
          select node_id, ctid::text as ctid from public.node_identities where node_id = any(${sample})`;
        if (counted) changed += after.filter((r) => before.get(r.node_id) !== r.ctid).length;
        // A heartbeat period passes.
        await admin`
          update public.node_identities set last_seen = last_seen - make_interval(secs => ${HEARTBEAT_PERIOD_SECONDS})
          where node_id = any(${sample}) and last_seen is not null`;
      }
      const beats = sample.length * rounds;
      result[`rows_written_per_1000_heartbeats_period_60s_write_interval_${interval}s`] = round2(
        (changed / beats) * 1000,
      );
      result[`rows_reported_written_per_1000_heartbeats_write_interval_${interval}s`] = round2(
        (reported / beats) * 1000,
      );
      // What that means for 1,000,000 nodes beating every 60 s (16,667 heartbeats/s).
      result[`writes_per_second_for_1m_nodes_write_interval_${interval}s`] = Math.round(
        (1_000_000 / HEARTBEAT_PERIOD_SECONDS) * (changed / beats),
      );
    }
    return result;
  } finally {
    // Bench data is removed so the bench leaves the database as it found it (audit rows aside).
    await admin`delete from public.node_identities n using public.install_tokens t
                where t.id = n.install_token_id and t.application_id = ${run}::uuid`.catch(() => {});
    await admin`delete from public.install_tokens where application_id = ${run}::uuid`.catch(() => {});
    await admin.end({ timeout: 5 });
  }
}
