import { toHex } from '../../encoding/bytes.ts';
import { parseEfiImageLoad } from './efi-image-load.ts';
import { EV } from './event-types.ts';
import { type GrubFacts, grubFacts } from './grub.ts';
import type { ReplayedEventLog } from './replay.ts';
import { type SecureBootFacts, secureBootFacts } from './secure-boot.ts';

/**
 * What booted, read from a REPLAYED log — only events of PCRs the replay explained are looked at.
 *
 * Authenticated (safe to base policy on):
 * - `secureBoot.*` — from PCR 7 EFI variables and authorities whose digest is checked to be the hash of
 *   their UEFI_VARIABLE_DATA in every authenticated bank (secure-boot.ts);
 * - `bootApplications[].digests` — the Authenticode hash the firmware extended into PCR 4;
 * - `grub.files[].digests` (incl. kernels/initrds) — the file hash GRUB extended into PCR 9;
 * - `grub.commands`, `grub.kernelCmdline` — PCR 8 text whose digest commits to it (grub.ts).
 * Merely reported (shown for people, never decided on):
 * - `bootApplications[].path` — the device path in the load event (not covered by the digest);
 * - `grub.files[].path`, and therefore which file is "the kernel" (matched by path to the
 *   authenticated `linux` command; see grub.ts for what that does and does not prove).
 *
 * With an unanchored replay (no quoted PCRs), everything here is only what the log claims.
 */

export interface BootApplication {
  sequence: number;
  pcr: number;
  /** Authenticode digest per authenticated bank, lowercase hex — authenticated. */
  digests: Record<string, string>;
  /** File path from the load event's device path — reported, not authenticated. */
  path: string | undefined;
}

export interface EventLogFacts {
  /** False when the replay was not checked against a quote: the facts are then claims, not evidence. */
  anchored: boolean;
  /** Per bank, the PCRs the facts are drawn from. */
  explained: Record<string, number[]>;
  /** Undefined when PCR 7 is not explained or measures no SecureBoot variable. */
  secureBoot: SecureBootFacts | undefined;
  /** EV_EFI_BOOT_SERVICES_APPLICATION events of PCR 4 (shim, GRUB, a kernel loaded through shim, …). */
  bootApplications: BootApplication[];
  grub: GrubFacts;
}

/**
 * @example
 * const replay = await replayEventLog(parseEventLog(bytes), quote.pcrs);
 * const facts = await extractFacts(replay);
 * facts.secureBoot?.enabled; facts.grub.kernels[0]?.digests.sha256;
 */
export async function extractFacts(replay: ReplayedEventLog): Promise<EventLogFacts> {
  const bootApplications: BootApplication[] = [];
  for (const e of replay.events) {
    if (e.type !== EV.EV_EFI_BOOT_SERVICES_APPLICATION || e.pcr !== 4) continue;
    const digests: Record<string, string> = {};
    for (const bank of e.authenticatedBanks) {
      const d = e.digests[bank];
      if (d) digests[bank] = toHex(d);
    }
    bootApplications.push({
      sequence: e.sequence,
      pcr: e.pcr,
      digests,
      path: parseEfiImageLoad(e.data)?.path,
    });
  }
  return {
    anchored: replay.anchored,
    explained: replay.explained,
    secureBoot: await secureBootFacts(replay.events),
    bootApplications,
    grub: await grubFacts(replay.events),
  };
}
