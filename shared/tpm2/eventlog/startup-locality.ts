import { EV } from './event-types.ts';
import type { LogEvent } from './parse.ts';

/**
 * The StartupLocality EV_NO_ACTION event (PC Client PFP §10.4.5.3): when the firmware sent TPM2_Startup
 * from locality 3 (or 4, an H-CRTM), PCR 0 does not start at zero but at 0…0‖locality. Without it the
 * whole of PCR 0 fails to replay on such platforms (tpm2-tools #3256).
 */
const SIGNATURE = 'StartupLocality\0';

/** The locality of the first StartupLocality event in PCR 0, or undefined. */
export function startupLocality(events: readonly LogEvent[]): number | undefined {
  for (const e of events) {
    if (e.type !== EV.EV_NO_ACTION || e.pcr !== 0 || e.data.length !== SIGNATURE.length + 1) continue;
    let match = true;
    for (let i = 0; i < SIGNATURE.length; i++) {
      if (e.data[i] !== SIGNATURE.charCodeAt(i)) {
        match = false;
        break;
      }
    }
    if (match) return e.data[SIGNATURE.length];
  }
  return undefined;
}
