import { afterAll, describe, expect, it } from 'vitest';
import { createSupabaseStorage } from '../../src/storage/supabase.ts';
import { createPostgrestRpcStandin, type PostgrestRpcStandin } from './postgrest-rpc-standin.ts';
import { storageContract } from './storage-contract.ts';

// The supabase-js adapter, through a TEST-ONLY stand-in for PostgREST's rpc endpoint (PostgREST
// cannot run here) that executes the calls on the same real PostgreSQL 15 as service_role.
const standins: PostgrestRpcStandin[] = [];

// Node 20 has no WebSocket; supabase-js insists on a realtime transport even though rpc never uses it.
class NoRealtimeTransport {}

function supabaseOver(standin: PostgrestRpcStandin, key: string) {
  return createSupabaseStorage({
    url: standin.url,
    serviceRoleKey: key,
    clientOptions: {
      global: { fetch: standin.fetch },
      realtime: { transport: NoRealtimeTransport as never },
    },
  });
}

storageContract('supabase (supabase-js rpc → PostgREST stand-in)', (databaseUrl) => {
  const standin = createPostgrestRpcStandin(databaseUrl);
  standins.push(standin);
  return { storage: supabaseOver(standin, standin.serviceRoleKey), close: () => standin.close() };
});

describe('supabase adapter specifics', () => {
  afterAll(async () => {
    for (const s of standins) await s.close();
  });

  it('only ever calls SQL functions over rpc', () => {
    const calls = standins.flatMap((s) => s.calls);
    expect(calls.length).toBeGreaterThan(50);
    expect(calls).toContain('complete_registration');
  });

  it('with the anon key the functions are not executable (PostgREST 401, permission denied)', async () => {
    const { inject } = await import('vitest');
    const standin = createPostgrestRpcStandin(inject('databaseUrl'));
    standins.push(standin);
    const anon = supabaseOver(standin, standin.anonKey);
    await expect(anon.getPolicy('ALL')).rejects.toThrow(/permission denied for function get_policy/);
  });
});
