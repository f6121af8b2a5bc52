import { fromBase64 } from '../../../shared/encoding/bytes.ts';
import { TpmError } from '../../../shared/tpm2/errors.ts';
import { extractFacts } from '../../../shared/tpm2/eventlog/facts.ts';
import { parseEventLog } from '../../../shared/tpm2/eventlog/parse.ts';
import { evaluateEventLogPolicy } from '../../../shared/tpm2/eventlog/policy.ts';
import { replayEventLog } from '../../../shared/tpm2/eventlog/replay.ts';
import type { AttestationPolicy } from '../storage/types.ts';

/**
 * A tier's measured-boot rules, judged on the node's TCG event log: the log must replay to the PCR
 * values the quote just proved (only then are its digests authenticated), and the facts drawn from it
 * (Secure Boot, the GRUB-measured kernel, db/dbx) must satisfy every rule. Without rules the log is not
 * required and not judged.
 */
export async function judgeEventLog(
  policy: Pick<AttestationPolicy, 'eventLogRules'>,
  eventLogBase64: string | undefined,
  quotedPcrs: Record<string, Record<string, Uint8Array>>,
): Promise<void> {
  const rules = policy.eventLogRules;
  if (!rules) return;
  if (!eventLogBase64) {
    throw new TpmError(
      'EVENT_LOG_INVALID',
      'this tier judges the boot event log: send it as eventLog (Linux: /sys/kernel/security/tpm0/binary_bios_measurements)',
      { check: 'present' },
    );
  }
  const bytes = fromBase64(eventLogBase64);
  if (!bytes)
    throw new TpmError('EVENT_LOG_INVALID', 'eventLog is not standard base64', { check: 'encoding' });
  const replay = await replayEventLog(parseEventLog(bytes), quotedPcrs);
  evaluateEventLogPolicy(await extractFacts(replay), rules);
}
