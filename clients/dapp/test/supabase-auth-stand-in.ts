import type { SupabaseAuthClient, SupabaseSessionLike } from '../src/access-token.ts';

/**
 * A structural stand-in for a supabase-js client's `auth` (no Supabase Auth server runs here): it holds
 * one session and, on `refreshSession`, swaps in the next token the test prepared, as supabase-js does
 * after a successful refresh-token grant. It counts calls so tests can see when the SDK refreshed.
 */
export class SupabaseAuthStandIn implements SupabaseAuthClient {
  refreshCalls = 0;
  getSessionCalls = 0;
  private session: SupabaseSessionLike | null;
  private readonly next: SupabaseSessionLike | null;

  constructor(session: SupabaseSessionLike | null, next: SupabaseSessionLike | null) {
    this.session = session;
    this.next = next;
  }

  readonly auth = {
    getSession: async () => {
      this.getSessionCalls++;
      return { data: { session: this.session }, error: null };
    },
    refreshSession: async () => {
      this.refreshCalls++;
      // Let parallel callers pile up, as they would behind a network round trip.
      await new Promise((r) => setTimeout(r, 20));
      if (!this.next)
        return { data: { session: null }, error: new Error('Invalid Refresh Token: Already Used') };
      this.session = this.next;
      return { data: { session: this.next }, error: null };
    },
  };
}
