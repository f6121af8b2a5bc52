import { utf8 } from '../../encoding/bytes.ts';

/**
 * Firmware that never logged the "Exit Boot Services" EV_EFI_ACTION events it extended into PCR 5
 * (go-attestation `eventlog_workarounds.go`, ATTESTATION.md §4). Replay of PCR 5 may append one of
 * these event sequences, in this order of preference; each digest is H_bank(the action string), as
 * EV_EFI_ACTION digests are. Which workaround (if any) was needed is reported, never silent.
 */
const INVOCATION = 'Exit Boot Services Invocation';
const SUCCESS = 'Exit Boot Services Returned with Success';
const FAILURE = 'Exit Boot Services Returned with Failure';

export interface EbsWorkaround {
  id: string;
  pcr: 5;
  /** The EV_EFI_ACTION strings appended to PCR 5, in order. */
  actions: Uint8Array[];
}

export const EBS_WORKAROUNDS: readonly EbsWorkaround[] = [
  { id: 'EBS Invocation + Success', pcr: 5, actions: [INVOCATION, SUCCESS].map(utf8.encode) },
  { id: 'EBS Invocation + Failure', pcr: 5, actions: [INVOCATION, FAILURE].map(utf8.encode) },
  {
    id: 'EBS Invocation + Failure + Success',
    pcr: 5,
    actions: [INVOCATION, FAILURE, SUCCESS].map(utf8.encode),
  },
];
