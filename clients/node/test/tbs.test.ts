import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { AgentError } from '../src/errors.ts';
import {
  bindTbs,
  type KoffiLike,
  openTbs,
  TBS_DECLARATIONS,
  type TbsApi,
  TbsTransport,
  tbsContextParams,
  tbsResultName,
} from '../src/tpm/transport-tbs.ts';

/**
 * Windows TBS cannot run here. What can be checked: the FFI declarations parse with koffi (the same parser
 * that binds them on Windows), the context parameters' bytes, and the transport's handling of TBS results,
 * through a TbsApi test double.
 */

const koffi = createRequire(import.meta.url)('koffi') as {
  proto(decl: string): object;
  introspect(t: unknown): {
    proto: { name: string; arguments: { type: { name: string }; direction: string }[] };
  };
};

/** A TbsApi double: records calls, answers from its fields. */
function tbsDouble(overrides: Partial<TbsApi> = {}) {
  const calls: string[] = [];
  const api: TbsApi = {
    contextCreate(params) {
      calls.push(`create:${Array.from(params).join(',')}`);
      return { result: 0, context: { ctx: 1 } };
    },
    submitCommand(_ctx, command, result) {
      calls.push(`submit:${command.length}:${result.length}`);
      result.set([0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0]);
      return { result: 0, length: 10 };
    },
    contextClose() {
      calls.push('close');
      return 0;
    },
    getTcgLog(_ctx, output) {
      calls.push(`log:${output?.length ?? 'null'}`);
      return { result: 0, length: 0 };
    },
    ...overrides,
  };
  return { api, calls };
}

describe('TBS FFI declarations', () => {
  it('parse with koffi as tbs.h declares them', () => {
    const submit = koffi.introspect(koffi.proto(TBS_DECLARATIONS.submitCommand)).proto;
    expect(submit.name).toBe('Tbsip_Submit_Command');
    expect(submit.arguments.map((a) => a.type.name)).toEqual([
      'void *',
      'uint32_t',
      'uint32_t',
      'uint8_t *',
      'uint32_t',
      'uint8_t *',
      'uint32_t *',
    ]);
    // The result length is in/out; the result buffer is written through its pointer.
    expect(submit.arguments[6]?.direction).toBe('Input/Output');
    const create = koffi.introspect(koffi.proto(TBS_DECLARATIONS.contextCreate)).proto;
    expect(create.arguments.map((a) => [a.type.name, a.direction])).toEqual([
      ['uint8_t *', 'Input'],
      ['void **', 'Output'],
    ]);
    expect(koffi.introspect(koffi.proto(TBS_DECLARATIONS.contextClose)).proto.name).toBe(
      'Tbsip_Context_Close',
    );
  });

  it('Tbsi_Get_TCG_Log parses: context, result buffer, in/out length', () => {
    const log = koffi.introspect(koffi.proto(TBS_DECLARATIONS.getTcgLog)).proto;
    expect(log.name).toBe('Tbsi_Get_TCG_Log');
    expect(log.arguments.map((a) => [a.type.name, a.direction])).toEqual([
      ['void *', 'Input'],
      ['uint8_t *', 'Input'],
      ['uint32_t *', 'Input/Output'],
    ]);
  });

  it('marshal TBS_CONTEXT_PARAMS2 as version 2 with includeTpm20, little-endian', () => {
    expect(Array.from(tbsContextParams())).toEqual([2, 0, 0, 0, 4, 0, 0, 0]);
  });

  it('bindTbs passes locality 0, priority normal, and reads the in/out length back', () => {
    const seen: unknown[][] = [];
    const fake: KoffiLike = {
      load: () => ({
        func:
          (decl: string) =>
          (...args: unknown[]) => {
            seen.push([decl.split('(')[0], ...args]);
            if (decl.includes('Context_Create')) (args[1] as unknown[])[0] = 'HCTX';
            if (decl.includes('Submit')) (args[6] as number[])[0] = 10;
            return 0;
          },
      }),
    };
    const api = bindTbs(fake, 'tbs.dll');
    expect(api.contextCreate(tbsContextParams())).toEqual({ result: 0, context: 'HCTX' });
    const out = new Uint8Array(64);
    expect(api.submitCommand('HCTX', Uint8Array.of(1, 2, 3), out)).toEqual({ result: 0, length: 10 });
    const submit = seen.find((s) => String(s[0]).includes('Submit'))!;
    expect(submit.slice(2, 4)).toEqual([0, 200]);
    expect(submit[5]).toBe(3);
    expect(submit[6]).toBe(out);
  });

  it('bindTbs binds Tbsi_Get_TCG_Log on first use: size query (null, length 0), then the fetch', () => {
    const bound: string[] = [];
    const seen: unknown[][] = [];
    const fake: KoffiLike = {
      load: () => ({
        func: (decl: string) => {
          bound.push(String(decl.split('(')[0]).split(' ').at(-1)!);
          return (...args: unknown[]) => {
            seen.push([...args.slice(0, 2), [...(args[2] as number[])]]);
            (args[2] as number[])[0] = 5;
            return 0;
          };
        },
      }),
    };
    const api = bindTbs(fake, 'tbs.dll');
    expect(bound).not.toContain('Tbsi_Get_TCG_Log');
    expect(api.getTcgLog('HCTX', null)).toEqual({ result: 0, length: 5 });
    const buf = new Uint8Array(5);
    expect(api.getTcgLog('HCTX', buf)).toEqual({ result: 0, length: 5 });
    expect(bound.filter((b) => b === 'Tbsi_Get_TCG_Log')).toHaveLength(1);
    expect(seen).toEqual([
      ['HCTX', null, [0]],
      ['HCTX', buf, [5]],
    ]);
  });
});

describe('TbsTransport (with a TbsApi test double)', () => {
  it('creates a TPM 2.0 context, submits, returns exactly the result bytes, closes once', async () => {
    const { api, calls } = tbsDouble();
    const t = new TbsTransport(api);
    expect(Array.from(await t.send(Uint8Array.of(1, 2, 3)))).toEqual([0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0]);
    await t.close();
    await t.close();
    expect(calls).toEqual(['create:2,0,0,0,4,0,0,0', 'submit:3:65536', 'close']);
  });

  it('no TPM: TPM_UNAVAILABLE; other context failures: TBS_FAILED with the TBS name', () => {
    expect(
      () => new TbsTransport(tbsDouble({ contextCreate: () => ({ result: 0x8028400f, context: null }) }).api),
    ).toThrow(expect.objectContaining({ code: 'TPM_UNAVAILABLE' }));
    expect(
      () => new TbsTransport(tbsDouble({ contextCreate: () => ({ result: 0x80284012, context: null }) }).api),
    ).toThrow(
      expect.objectContaining({
        code: 'TBS_FAILED',
        message: expect.stringContaining('TBS_E_ACCESS_DENIED'),
      }),
    );
  });

  it('a failed submit: TBS_FAILED; a length beyond the buffer: TPM_RESPONSE_SIZE_MISMATCH; closed: TPM_TRANSPORT_CLOSED', async () => {
    const failing = new TbsTransport(
      tbsDouble({ submitCommand: () => ({ result: 0x80284006, length: 0 }) }).api,
    );
    await expect(failing.send(Uint8Array.of(1))).rejects.toMatchObject({ code: 'TBS_FAILED' });
    const lying = new TbsTransport(tbsDouble({ submitCommand: () => ({ result: 0, length: 1 << 20 }) }).api);
    await expect(lying.send(Uint8Array.of(1))).rejects.toMatchObject({ code: 'TPM_RESPONSE_SIZE_MISMATCH' });
    const closed = new TbsTransport(tbsDouble().api);
    await closed.close();
    await expect(closed.send(Uint8Array.of(1))).rejects.toMatchObject({ code: 'TPM_TRANSPORT_CLOSED' });
  });

  it('names TBS results, known or not', () => {
    expect(tbsResultName(0x80284008)).toBe('TBS_E_SERVICE_NOT_RUNNING');
    expect(tbsResultName(0x80284fff)).toBe('TBS_RESULT 0x80284fff');
  });

  it('refuses to open off Windows with TPM_UNAVAILABLE', async () => {
    if (process.platform === 'win32') return;
    const e = await openTbs().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AgentError);
    expect((e as AgentError).code).toBe('TPM_UNAVAILABLE');
  });
});
