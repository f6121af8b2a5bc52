import { DEFAULT_HOST_TIMINGS, type HostTimings, scaleHostTimings } from '../constants.ts';
import type { DebugFramePolicy } from '../host-state-machine.ts';
import { type MastrLink, openLink, parseLinkSpec } from '../transport.ts';
import { positiveNumber, usage } from './common.ts';

/** Options shared by bootstrap and guard: the port, the DEBUG-frame policy, the token key index, timings. */
export const LINK_OPTIONS = {
  port: { type: 'string' },
  baud: { type: 'string' },
  'debug-frames': { type: 'string' },
  'nv-index': { type: 'string' },
  'legacy-nv-index': { type: 'boolean' },
  'time-scale': { type: 'string' },
  handoff: { type: 'string' },
} as const;

export function debugFramePolicy(v: string | undefined): DebugFramePolicy {
  if (v === undefined || v === 'fatal') return 'fatal';
  if (v === 'tolerate') return 'tolerate';
  throw usage('--debug-frames must be tolerate or fatal');
}

export function hostTimings(scale: string | undefined): HostTimings {
  return scale === undefined
    ? { ...DEFAULT_HOST_TIMINGS }
    : scaleHostTimings(DEFAULT_HOST_TIMINGS, positiveNumber(scale, 'time-scale', 1));
}

export async function openPort(port: string | undefined, baud: string | undefined): Promise<MastrLink> {
  if (!port) throw usage('--port DEV (e.g. /dev/ttyACM0) or --port tcp:HOST:PORT (the emulator) is required');
  const spec = parseLinkSpec(port);
  return openLink(spec, baud === undefined ? {} : { baudRate: positiveNumber(baud, 'baud', 115200) });
}
