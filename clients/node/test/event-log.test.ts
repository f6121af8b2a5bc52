import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  API_BODY_LIMIT_BYTES,
  base64Length,
  defaultEventLogSource,
  type EventLogRead,
  eventLogFits,
  eventLogOverride,
  jsonBytes,
  maxEventLogBytes,
  readEventLog,
  resolveEventLogSetting,
  withEventLog,
} from '../src/agent/event-log.ts';
import { readEventLogFile } from '../src/agent/event-log-linux.ts';
import { tcgLogFromTbs } from '../src/agent/event-log-windows.ts';
import type { TbsApi } from '../src/tpm/transport-tbs.ts';

/**
 * Where the boot event log comes from (option, environment, state, platform default), the bounded file
 * reader, the 256 KiB body rule, and the Windows TBS reader's two-call pattern through a TbsApi test double
 * (TBS cannot run here). The real API's judgement of the log is in event-log.e2e.test.ts.
 */

const dir = mkdtempSync(join(tmpdir(), 'noderr-event-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the event-log setting', () => {
  it('option over environment over the recorded setting over default; files made absolute', () => {
    const env = { NODERR_EVENT_LOG: '/env/log' };
    expect(resolveEventLogSetting('/opt/log', env, '/state/log')).toBe('/opt/log');
    expect(resolveEventLogSetting(undefined, env, '/state/log')).toBe('/env/log');
    expect(resolveEventLogSetting(undefined, {}, '/state/log')).toBe('/state/log');
    expect(resolveEventLogSetting(undefined, {})).toBe('default');
    expect(resolveEventLogSetting('none', env, '/state/log')).toBe('none');
    expect(resolveEventLogSetting(undefined, { NODERR_EVENT_LOG: 'none' }, '/state/log')).toBe('none');
    expect(resolveEventLogSetting('default', {}, '/state/log')).toBe('default');
    expect(resolveEventLogSetting('boot.log', {}, undefined, '/work')).toBe('/work/boot.log');
  });

  it('an empty NODERR_EVENT_LOG counts as unset (as in install.sh); an empty --event-log is USAGE', () => {
    expect(eventLogOverride(undefined, { NODERR_EVENT_LOG: '  ' })).toBeUndefined();
    expect(eventLogOverride(undefined, {})).toBeUndefined();
    expect(() => eventLogOverride('', {})).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  it('names the platform default', () => {
    expect(defaultEventLogSource('linux')).toBe('/sys/kernel/security/tpm0/binary_bios_measurements');
    expect(defaultEventLogSource('win32')).toBe('TBS (Tbsi_Get_TCG_Log)');
    expect(defaultEventLogSource('darwin')).toBe('none');
  });

  it('none reads nothing; default on a platform without a log reads nothing', async () => {
    expect(await readEventLog('none', 'linux')).toBeUndefined();
    expect(await readEventLog('default', 'darwin')).toBeUndefined();
  });
});

describe('reading a log file', () => {
  it('reads the whole file; a missing or empty file is absent with the reason', () => {
    const f = join(dir, 'log.bin');
    writeFileSync(f, Uint8Array.of(1, 2, 3));
    expect(readEventLogFile(f, 10)).toEqual({ kind: 'log', from: f, bytes: Uint8Array.of(1, 2, 3) });
    expect(readEventLogFile(join(dir, 'nope'), 10)).toEqual({
      kind: 'absent',
      from: join(dir, 'nope'),
      reason: 'no such file',
    });
    const empty = join(dir, 'empty.bin');
    writeFileSync(empty, '');
    expect(readEventLogFile(empty, 10)).toMatchObject({ kind: 'absent', reason: 'the file is empty' });
  });

  it('reads exactly up to the cap, and no further than one byte past it', () => {
    const f = join(dir, 'cap.bin');
    writeFileSync(f, new Uint8Array(100_000).fill(7));
    expect(readEventLogFile(f, 100_000)).toMatchObject({ kind: 'log' });
    expect(readEventLogFile(f, 99_999)).toEqual({ kind: 'tooLarge', from: f, size: 'more than 99999' });
  });
});

describe('the 256 KiB body rule (base64 grows the log by 4/3)', () => {
  it('base64 length and fit, at the boundary', () => {
    expect([0, 1, 2, 3, 4].map(base64Length)).toEqual([0, 4, 4, 4, 8]);
    const body = 1000;
    const max = maxEventLogBytes(body);
    // `,"eventLog":""` is 14 bytes; what is left is filled in whole base64 quanta.
    expect(max).toBe(Math.floor((API_BODY_LIMIT_BYTES - body - 14) / 4) * 3);
    expect(body + 14 + base64Length(max)).toBeLessThanOrEqual(API_BODY_LIMIT_BYTES);
    expect(eventLogFits(max, body)).toBe(true);
    expect(eventLogFits(max + 1, body)).toBe(false);
    expect(maxEventLogBytes(API_BODY_LIMIT_BYTES)).toBe(0);
  });

  const out = () => {
    const warnings: string[] = [];
    const progress: string[] = [];
    return {
      warnings,
      progress,
      sink: { warn: (m: string) => warnings.push(m), progress: (m: string) => progress.push(m) },
    };
  };
  const body = { nodeId: 'n', attestation: { nonce: 'AAAA', quote: 'q'.repeat(500) } };
  const logOf =
    (bytes: Uint8Array): ((s: string) => Promise<EventLogRead>) =>
    async () => ({ kind: 'log', from: '/boot.log', bytes });

  it('sends a log that fits exactly: the request is then at most 256 KiB', async () => {
    const o = out();
    const max = maxEventLogBytes(jsonBytes(body));
    const r = await withEventLog(body, '/boot.log', o.sink, logOf(new Uint8Array(max).fill(1)));
    expect(r.report).toEqual({ source: '/boot.log', from: '/boot.log', sent: true, bytes: max });
    expect(jsonBytes(r.body)).toBeLessThanOrEqual(API_BODY_LIMIT_BYTES);
    expect(jsonBytes(r.body)).toBeGreaterThan(API_BODY_LIMIT_BYTES - 4);
    expect(
      Buffer.from(String((r.body.attestation as Record<string, unknown>).eventLog), 'base64').length,
    ).toBe(max);
    expect(o.warnings).toEqual([]);
  });

  it('does not send a log one byte larger, and warns', async () => {
    const o = out();
    const max = maxEventLogBytes(jsonBytes(body));
    const r = await withEventLog(body, 'default', o.sink, logOf(new Uint8Array(max + 1)));
    expect(r.body).toBe(body);
    expect(r.report).toMatchObject({ sent: false, from: '/boot.log' });
    expect(o.warnings).toHaveLength(1);
    expect(o.warnings[0]).toMatch(/does not fit the API's 256 KiB body limit .* not sent$/);
    expect(o.warnings[0]).toContain(`${max + 1} bytes`);
  });

  it('a file larger than the limit is not read whole, not sent, and warned about', async () => {
    const f = join(dir, 'huge.bin');
    writeFileSync(f, new Uint8Array(API_BODY_LIMIT_BYTES + 10));
    const o = out();
    const r = await withEventLog(body, f, o.sink);
    expect(r.report).toMatchObject({ sent: false, from: f });
    expect(o.warnings[0]).toContain(`more than ${API_BODY_LIMIT_BYTES} bytes`);
  });

  it('an explicit file that cannot be read is a warning; the platform default missing is only progress', async () => {
    const absent = async (): Promise<EventLogRead> => ({
      kind: 'absent',
      from: '/x',
      reason: 'no such file',
    });
    const a = out();
    expect((await withEventLog(body, '/x', a.sink, absent)).report).toEqual({
      source: '/x',
      from: '/x',
      sent: false,
      reason: 'no such file',
    });
    expect(a.warnings).toEqual(['no boot event log sent: cannot read /x: no such file']);
    const b = out();
    await withEventLog(body, 'default', b.sink, absent);
    expect(b.warnings).toEqual([]);
    expect(b.progress).toEqual(['no boot event log sent: cannot read /x: no such file']);
    const c = out();
    expect((await withEventLog(body, 'none', c.sink)).report).toEqual({
      source: 'none',
      sent: false,
      reason: 'none',
    });
  });
});

describe('the Windows TBS event log (TbsApi test double)', () => {
  /** Answers Tbsi_Get_TCG_Log from `log`; `script` overrides results call by call. */
  function tbs(log: Uint8Array, script: Partial<Record<number, number>> = {}) {
    const calls: string[] = [];
    let n = 0;
    const api: TbsApi = {
      contextCreate: () => {
        calls.push('create');
        return { result: 0, context: 'HCTX' };
      },
      submitCommand: () => ({ result: 0, length: 0 }),
      contextClose: () => {
        calls.push('close');
        return 0;
      },
      getTcgLog(_ctx, output) {
        calls.push(output ? `fetch:${output.length}` : 'size');
        const forced = script[n++];
        if (forced !== undefined) return { result: forced, length: log.length };
        if (!output) return { result: 0, length: log.length };
        if (output.length < log.length) return { result: 0x80284005, length: log.length };
        output.set(log);
        return { result: 0, length: log.length };
      },
    };
    return { api, calls };
  }

  it('size query, then the fetch into a buffer of that size; the context is closed', () => {
    const { api, calls } = tbs(Uint8Array.of(9, 8, 7));
    expect(tcgLogFromTbs(api, 1000)).toEqual({ kind: 'log', from: 'tbs', bytes: Uint8Array.of(9, 8, 7) });
    expect(calls).toEqual(['create', 'size', 'fetch:3', 'close']);
  });

  it('a log that grew between the calls (TBS_E_INSUFFICIENT_BUFFER) is asked for once more', () => {
    const { api, calls } = tbs(Uint8Array.of(1, 2), { 1: 0x80284005 });
    expect(tcgLogFromTbs(api, 1000)).toMatchObject({ kind: 'log', bytes: Uint8Array.of(1, 2) });
    expect(calls).toEqual(['create', 'size', 'fetch:2', 'size', 'fetch:2', 'close']);
  });

  it('TBS_E_NO_EVENT_LOG: absent, named; a log over the cap is not fetched; failures still close', () => {
    const none = tbs(Uint8Array.of(1), { 0: 0x80284023 });
    expect(tcgLogFromTbs(none.api, 1000)).toEqual({
      kind: 'absent',
      from: 'tbs',
      reason: 'Tbsi_Get_TCG_Log: TBS_E_NO_EVENT_LOG (Windows kept no boot event log)',
    });
    expect(none.calls).toEqual(['create', 'size', 'close']);
    const big = tbs(new Uint8Array(2000));
    expect(tcgLogFromTbs(big.api, 1000)).toEqual({ kind: 'tooLarge', from: 'tbs', size: '2000' });
    expect(big.calls).toEqual(['create', 'size', 'close']);
  });

  it('no TPM: the context cannot be created, nothing to close', () => {
    const { api, calls } = tbs(Uint8Array.of(1));
    api.contextCreate = () => ({ result: 0x8028400f, context: null });
    expect(tcgLogFromTbs(api, 1000)).toEqual({
      kind: 'absent',
      from: 'tbs',
      reason: 'Tbsi_Context_Create: TBS_E_TPM_NOT_FOUND (no TPM 2.0 found)',
    });
    expect(calls).toEqual([]);
  });
});
