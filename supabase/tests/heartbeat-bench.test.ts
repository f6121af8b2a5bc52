import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../scripts/test/database.ts';
import { benchHeartbeat } from '../bench/heartbeat.bench.ts';

// The bench itself is run by `npm run bench` with 10,000 nodes; this checks, at a small scale, that it
// runs and that write coalescing holds: with a 60 s heartbeat, last_seen is written at most once per
// write interval per node, and both ways of counting written rows agree.
describe('heartbeat bench (small scale)', () => {
  it('measures throughput and shows writes coalesced to one per node per interval', async () => {
    const { url } = await createTestDatabase();
    const r = await benchHeartbeat(url, {
      nodes: 300,
      connections: 2,
      durationMs: 300,
      writeIntervals: [60, 300],
      coalescingNodes: 100,
      rounds: 10,
    });
    expect(r.heartbeat_calls_per_second_steady).toBeGreaterThan(0);
    expect(r.heartbeat_written_share_steady).toBe(0);
    expect(r.heartbeat_calls_per_second_every_call_writes).toBeGreaterThan(0);
    // Interval = period: every heartbeat writes.
    expect(r.rows_written_per_1000_heartbeats_period_60s_write_interval_60s).toBe(1000);
    // Interval = 5 periods: one write in five heartbeats (steady state: exactly 2 per node in 10 rounds).
    expect(r.rows_written_per_1000_heartbeats_period_60s_write_interval_300s).toBe(200);
    expect(r.rows_reported_written_per_1000_heartbeats_write_interval_300s).toBe(
      r.rows_written_per_1000_heartbeats_period_60s_write_interval_300s,
    );
  });
});
