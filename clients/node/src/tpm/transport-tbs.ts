import { createRequire } from 'node:module';
import { AgentError } from '../errors.ts';
import { MAX_RESPONSE_SIZE } from './constants.ts';
import type { TpmTransport } from './transport.ts';

/**
 * Windows TPM Base Services (tbs.dll): `Tbsi_Context_Create` opens a context for TPM 2.0 commands,
 * `Tbsip_Submit_Command` sends one command and fills the result buffer, `Tbsip_Context_Close` ends it.
 * The DLL is reached through koffi (a prebuilt FFI, no compiler needed), loaded only on win32. TBS is a
 * resource manager like /dev/tpmrm0: transient objects die with the context.
 */

/** The C declarations, as koffi parses them (tbs.h). TBS_HCONTEXT is a pointer-sized handle. */
export const TBS_DECLARATIONS = {
  contextCreate:
    'uint32_t __stdcall Tbsi_Context_Create(const uint8_t *pContextParams, _Out_ void **phContext)',
  submitCommand:
    'uint32_t __stdcall Tbsip_Submit_Command(void *hContext, uint32_t Locality, uint32_t Priority, const uint8_t *pabCommand, uint32_t cbCommand, uint8_t *pabResult, _Inout_ uint32_t *pcbResult)',
  contextClose: 'uint32_t __stdcall Tbsip_Context_Close(void *hContext)',
  /**
   * The TCG boot event log Windows keeps (WBCL). Two calls: a null buffer with length 0 asks for the size,
   * then a buffer of that size is filled; the in/out length says how many bytes were written.
   */
  getTcgLog:
    'uint32_t __stdcall Tbsi_Get_TCG_Log(void *hContext, uint8_t *pOutputBuf, _Inout_ uint32_t *pOutputBufLen)',
} as const;

/** `TBS_CONTEXT_VERSION_TWO` and `TBS_CONTEXT_PARAMS2.includeTpm20` (bit 2). */
export const TBS_CONTEXT_VERSION_TWO = 2;
export const TBS_INCLUDE_TPM20 = 1 << 2;
/** `TBS_COMMAND_LOCALITY_ZERO`, `TBS_COMMAND_PRIORITY_NORMAL`. */
export const TBS_LOCALITY_ZERO = 0;
export const TBS_PRIORITY_NORMAL = 200;

/** `TBS_CONTEXT_PARAMS2` as bytes: UINT32 version ‖ UINT32 flags, little-endian (x86/x64/arm64 Windows). */
export function tbsContextParams(): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, TBS_CONTEXT_VERSION_TWO, true);
  v.setUint32(4, TBS_INCLUDE_TPM20, true);
  return b;
}

/** TBS_RESULT codes (tbs.h), for readable errors. */
export const TBS_RESULTS: Readonly<Record<number, string>> = {
  0: 'TBS_SUCCESS',
  2150121473: 'TBS_E_INTERNAL_ERROR',
  2150121474: 'TBS_E_BAD_PARAMETER',
  2150121475: 'TBS_E_INVALID_OUTPUT_POINTER',
  2150121476: 'TBS_E_INVALID_CONTEXT',
  2150121477: 'TBS_E_INSUFFICIENT_BUFFER',
  2150121478: 'TBS_E_IOERROR',
  2150121479: 'TBS_E_INVALID_CONTEXT_PARAM',
  2150121480: 'TBS_E_SERVICE_NOT_RUNNING',
  2150121481: 'TBS_E_TOO_MANY_TBS_CONTEXTS',
  2150121482: 'TBS_E_TOO_MANY_RESOURCES',
  2150121483: 'TBS_E_SERVICE_START_PENDING',
  2150121485: 'TBS_E_COMMAND_CANCELED',
  2150121486: 'TBS_E_BUFFER_TOO_LARGE',
  2150121487: 'TBS_E_TPM_NOT_FOUND',
  2150121488: 'TBS_E_SERVICE_DISABLED',
  2150121490: 'TBS_E_ACCESS_DENIED',
  2150121507: 'TBS_E_NO_EVENT_LOG',
};

export const TBS_E_INSUFFICIENT_BUFFER = 0x80284005;
export const TBS_E_TPM_NOT_FOUND = 0x8028400f;
export const TBS_E_NO_EVENT_LOG = 0x80284023;

export function tbsResultName(result: number): string {
  return TBS_RESULTS[result >>> 0] ?? `TBS_RESULT 0x${(result >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * The calls the agent makes (koffi's binding on Windows; a test double elsewhere): the transport's three,
 * and `getTcgLog` for the boot event log (`output` null: the size query).
 */
export interface TbsApi {
  contextCreate(params: Uint8Array): { result: number; context: unknown };
  submitCommand(
    context: unknown,
    command: Uint8Array,
    result: Uint8Array,
  ): { result: number; length: number };
  contextClose(context: unknown): number;
  getTcgLog(context: unknown, output: Uint8Array | null): { result: number; length: number };
}

export class TbsTransport implements TpmTransport {
  readonly description = 'Windows TBS';
  private context: unknown;

  constructor(private readonly api: TbsApi) {
    const { result, context } = api.contextCreate(tbsContextParams());
    if (result !== 0) {
      const name = tbsResultName(result);
      const notFound = result === TBS_E_TPM_NOT_FOUND;
      throw new AgentError(
        notFound ? 'TPM_UNAVAILABLE' : 'TBS_FAILED',
        `Tbsi_Context_Create: ${name}${notFound ? ' (no TPM 2.0 found; check tpm.msc)' : ''}`,
        { tbsResult: name },
      );
    }
    this.context = context;
  }

  async send(command: Uint8Array): Promise<Uint8Array> {
    if (this.context === undefined) throw new AgentError('TPM_TRANSPORT_CLOSED', 'TBS context is closed');
    const buf = new Uint8Array(MAX_RESPONSE_SIZE);
    const { result, length } = this.api.submitCommand(this.context, command, buf);
    if (result !== 0) {
      throw new AgentError('TBS_FAILED', `Tbsip_Submit_Command: ${tbsResultName(result)}`, {
        tbsResult: tbsResultName(result),
      });
    }
    if (length > buf.length) {
      throw new AgentError(
        'TPM_RESPONSE_SIZE_MISMATCH',
        `TBS reported ${length} result bytes for a ${buf.length}-byte buffer`,
      );
    }
    return buf.slice(0, length);
  }

  async close(): Promise<void> {
    if (this.context === undefined) return;
    const ctx = this.context;
    this.context = undefined;
    this.api.contextClose(ctx);
  }
}

/**
 * Binds tbs.dll with koffi (Windows only). Exported so the declarations can be parsed on any platform.
 * `Tbsi_Get_TCG_Log` is bound on its first use only, so the transport never depends on it.
 */
export function bindTbs(koffi: KoffiLike, library: string): TbsApi {
  const lib = koffi.load(library);
  const create = lib.func(TBS_DECLARATIONS.contextCreate);
  const submit = lib.func(TBS_DECLARATIONS.submitCommand);
  const close = lib.func(TBS_DECLARATIONS.contextClose);
  let getLog: ((...args: unknown[]) => unknown) | undefined;
  return {
    contextCreate(params) {
      const out: unknown[] = [null];
      const result = Number(create(params, out));
      return { result, context: out[0] };
    },
    submitCommand(context, command, result) {
      const len = [result.length];
      const rc = Number(
        submit(context, TBS_LOCALITY_ZERO, TBS_PRIORITY_NORMAL, command, command.length, result, len),
      );
      return { result: rc, length: len[0] ?? 0 };
    },
    contextClose: (context) => Number(close(context)),
    getTcgLog(context, output) {
      getLog ??= lib.func(TBS_DECLARATIONS.getTcgLog);
      const len = [output?.length ?? 0];
      const rc = Number(getLog(context, output, len));
      return { result: rc, length: len[0] ?? 0 };
    },
  };
}

/** The slice of koffi's API used here (its own types are not needed at this boundary). */
export interface KoffiLike {
  load(path: string): { func(declaration: string): (...args: unknown[]) => unknown };
}

/** koffi and tbs.dll, loaded when first needed (Windows only): for the transport and the event log. */
export function loadTbsApi(what = 'the TBS transport', elsewhere = 'use --tpm device:… or swtpm:…'): TbsApi {
  if (process.platform !== 'win32')
    throw new AgentError('TPM_UNAVAILABLE', `${what} exists only on Windows; ${elsewhere}`);
  let koffi: KoffiLike;
  try {
    // koffi is a native module: the bundled agent loads it from a node_modules next to it (README).
    koffi = createRequire(import.meta.url)('koffi') as KoffiLike;
  } catch (e) {
    throw new AgentError(
      'TPM_UNAVAILABLE',
      `${what} needs the koffi package (npm install koffi@3.3.4 next to the agent): ${(e as Error).message}`,
    );
  }
  return bindTbs(koffi, 'tbs.dll');
}

export async function openTbs(): Promise<TbsTransport> {
  return new TbsTransport(loadTbsApi());
}
