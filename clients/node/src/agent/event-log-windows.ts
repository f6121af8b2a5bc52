import { AgentError } from '../errors.ts';
import {
  loadTbsApi,
  TBS_E_INSUFFICIENT_BUFFER,
  TBS_E_NO_EVENT_LOG,
  TBS_E_TPM_NOT_FOUND,
  type TbsApi,
  tbsContextParams,
  tbsResultName,
} from '../tpm/transport-tbs.ts';
import type { EventLogRead } from './event-log.ts';

/**
 * The boot event log on Windows: TBS hands out the TCG log Windows keeps (`Tbsi_Get_TCG_Log` on a TPM 2.0
 * context). Two calls: the size query (null buffer, length 0), then the fetch into a buffer of that size.
 * A log that grew in between (TBS_E_INSUFFICIENT_BUFFER) is asked for once more.
 */
export const TBS_EVENT_LOG = 'tbs';

export function tcgLogFromTbs(api: TbsApi, cap: number): EventLogRead {
  const created = api.contextCreate(tbsContextParams());
  if (created.result !== 0) return failed('Tbsi_Context_Create', created.result);
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      const sized = api.getTcgLog(created.context, null);
      if (sized.result !== 0 && sized.result !== TBS_E_INSUFFICIENT_BUFFER)
        return failed('Tbsi_Get_TCG_Log', sized.result);
      if (sized.length === 0)
        return { kind: 'absent', from: TBS_EVENT_LOG, reason: 'TBS returned an empty log' };
      if (sized.length > cap) return { kind: 'tooLarge', from: TBS_EVENT_LOG, size: String(sized.length) };
      const buf = new Uint8Array(sized.length);
      const got = api.getTcgLog(created.context, buf);
      if (got.result === TBS_E_INSUFFICIENT_BUFFER) continue;
      if (got.result !== 0) return failed('Tbsi_Get_TCG_Log', got.result);
      if (got.length === 0 || got.length > buf.length)
        return {
          kind: 'absent',
          from: TBS_EVENT_LOG,
          reason: `TBS reported ${got.length} bytes for a ${buf.length}-byte buffer`,
        };
      return { kind: 'log', from: TBS_EVENT_LOG, bytes: buf.slice(0, got.length) };
    }
    return { kind: 'absent', from: TBS_EVENT_LOG, reason: 'the log kept growing between the two calls' };
  } finally {
    api.contextClose(created.context);
  }
}

function failed(call: string, result: number): EventLogRead {
  const name = tbsResultName(result);
  const why =
    result === TBS_E_NO_EVENT_LOG
      ? ' (Windows kept no boot event log)'
      : result === TBS_E_TPM_NOT_FOUND
        ? ' (no TPM 2.0 found)'
        : '';
  return { kind: 'absent', from: TBS_EVENT_LOG, reason: `${call}: ${name}${why}` };
}

/** The platform default on Windows: koffi and tbs.dll are loaded only now. */
export function readWindowsEventLog(cap: number): EventLogRead {
  let api: TbsApi;
  try {
    api = loadTbsApi('the TBS event log', 'pass --event-log FILE');
  } catch (e) {
    if (e instanceof AgentError) return { kind: 'absent', from: TBS_EVENT_LOG, reason: e.message };
    throw e;
  }
  return tcgLogFromTbs(api, cap);
}
