import { timingSafeEqual } from '../../encoding/bytes.ts';
import { bankHash } from './digest-algorithms.ts';
import type { AuthenticatedEvent } from './replay.ts';

/**
 * Event data is attacker-controlled unless the digest the TPM extended commits to it
 * (go-attestation `docs/event-log-disclosure.md`). This is that check: in EVERY bank the replay
 * authenticated, the event's digest equals H_bank(candidate). One bank matching is not enough — a
 * forger who can only satisfy the SHA-1 bank must not get SHA-256 data believed.
 */
export async function digestCommitsTo(event: AuthenticatedEvent, candidate: Uint8Array): Promise<boolean> {
  if (event.authenticatedBanks.length === 0) return false;
  const checks = event.authenticatedBanks.map(async (bank) => {
    const hash = bankHash(bank);
    const digest = event.digests[bank];
    if (!hash || !digest) return false;
    const h = new Uint8Array(await crypto.subtle.digest(hash, candidate as Uint8Array<ArrayBuffer>));
    return timingSafeEqual(h, digest);
  });
  return (await Promise.all(checks)).every(Boolean);
}
