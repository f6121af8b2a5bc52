import { TPM_ST } from '../../../../shared/tpm2/constants.ts';
import { ByteReader, ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import { AgentError } from '../errors.ts';
import { HEADER_SIZE } from './constants.ts';
import { type DecodedResponseCode, decodeResponseCode } from './response-code.ts';

/**
 * Command and response framing (Part 1 §18, Part 3 "Command/Response structure"): the header, the handle
 * area, the authorization area and the parameters. Every malformation of a response is a typed error here,
 * so the commands above only ever see a well-formed parameter area.
 */

/** One entry of the command authorization area (`TPMS_AUTH_COMMAND`). */
export interface AuthCommand {
  handle: number;
  nonce: Uint8Array;
  attributes: number;
  hmac: Uint8Array;
}

export interface CommandFrame {
  code: number;
  handles?: readonly number[];
  sessions?: readonly AuthCommand[];
  params?: Uint8Array;
}

export function marshalCommand(c: CommandFrame): Uint8Array {
  const sessions = c.sessions ?? [];
  const body = new ByteWriter();
  for (const h of c.handles ?? []) body.u32(h);
  if (sessions.length > 0) {
    const auth = new ByteWriter();
    for (const s of sessions) auth.u32(s.handle).tpm2b(s.nonce).u8(s.attributes).tpm2b(s.hmac);
    const area = auth.finish();
    body.u32(area.length).bytes(area);
  }
  if (c.params) body.bytes(c.params);
  const rest = body.finish();
  return new ByteWriter()
    .u16(sessions.length > 0 ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS)
    .u32(HEADER_SIZE + rest.length)
    .u32(c.code)
    .bytes(rest)
    .finish();
}

/** A TPM answered with a non-zero response code. */
export class TpmCommandError extends AgentError {
  readonly rc: DecodedResponseCode;
  constructor(command: string, rc: DecodedResponseCode) {
    super('TPM_COMMAND_FAILED', `TPM2_${command} failed: ${rc.message}`, {
      command,
      rc: `0x${rc.rc.toString(16).padStart(8, '0')}`,
      name: rc.name,
      ...(rc.handle !== undefined ? { handle: rc.handle } : {}),
      ...(rc.session !== undefined ? { session: rc.session } : {}),
      ...(rc.parameter !== undefined ? { parameter: rc.parameter } : {}),
    });
    this.rc = rc;
  }
}

export interface ResponseShape {
  command: string;
  /** Whether the command carried an authorization area (then a successful response must too). */
  withSessions: boolean;
  responseHandles: number;
}

export interface ParsedResponse {
  handles: number[];
  params: Uint8Array;
}

/** Reads the response header (tag, size, rc) and checks it against the bytes actually received. */
export function readResponseHeader(
  bytes: Uint8Array,
  command: string,
): { tag: number; size: number; rc: number } {
  if (bytes.length < HEADER_SIZE) {
    throw new AgentError(
      'TPM_RESPONSE_TRUNCATED',
      `TPM2_${command}: response of ${bytes.length} bytes is shorter than the 10-byte header`,
    );
  }
  const r = new ByteReader(bytes, 'TPM response');
  const tag = r.u16();
  const size = r.u32();
  const rc = r.u32();
  if (tag !== TPM_ST.NO_SESSIONS && tag !== TPM_ST.SESSIONS && tag !== TPM_ST.RSP_COMMAND) {
    throw new AgentError(
      'TPM_RESPONSE_BAD_TAG',
      `TPM2_${command}: response tag 0x${tag.toString(16)} is not TPM_ST_NO_SESSIONS/SESSIONS`,
    );
  }
  if (size !== bytes.length) {
    throw new AgentError(
      'TPM_RESPONSE_SIZE_MISMATCH',
      `TPM2_${command}: response header says ${size} bytes but ${bytes.length} arrived`,
    );
  }
  return { tag, size, rc };
}

/**
 * Splits a response into handles and parameters. A failure code becomes TpmCommandError; a response
 * whose tag, size or areas do not add up becomes the matching TPM_RESPONSE_* error.
 */
export function parseResponse(bytes: Uint8Array, shape: ResponseShape): ParsedResponse {
  const { tag, rc } = readResponseHeader(bytes, shape.command);
  if (rc !== 0) {
    if (bytes.length !== HEADER_SIZE) {
      throw new AgentError(
        'TPM_RESPONSE_SIZE_MISMATCH',
        `TPM2_${shape.command}: an error response (rc 0x${rc.toString(16)}) must be 10 bytes, got ${bytes.length}`,
      );
    }
    throw new TpmCommandError(shape.command, decodeResponseCode(rc));
  }
  const expected = shape.withSessions ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS;
  if (tag !== expected) {
    throw new AgentError(
      'TPM_RESPONSE_BAD_TAG',
      `TPM2_${shape.command}: response tag 0x${tag.toString(16)}, expected 0x${expected.toString(16)}`,
    );
  }
  return malformedAsTyped(shape.command, () => {
    const r = new ByteReader(bytes.subarray(HEADER_SIZE), `TPM2_${shape.command} response`);
    const handles: number[] = [];
    for (let i = 0; i < shape.responseHandles; i++) handles.push(r.u32('handle'));
    if (!shape.withSessions) return { handles, params: r.rest() };
    const paramSize = r.u32('parameterSize');
    if (paramSize > r.remaining) {
      throw new AgentError(
        'TPM_RESPONSE_SIZE_MISMATCH',
        `TPM2_${shape.command}: parameterSize ${paramSize} exceeds the ${r.remaining} bytes left`,
      );
    }
    const params = r.bytesN(paramSize, 'parameters');
    // The authorization area: nonceTPM, attributes, hmac per session. Unverified (password and
    // unbound policy sessions carry no response HMAC), but it must be well-formed and complete.
    while (r.remaining > 0) {
      r.tpm2b('nonceTPM', 64);
      r.u8('sessionAttributes');
      r.tpm2b('hmac', 64);
    }
    return { handles, params };
  });
}

/** Runs a parser over TPM output, turning the codec's MALFORMED_STRUCTURE into TPM_RESPONSE_MALFORMED. */
export function malformedAsTyped<T>(command: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AgentError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new AgentError('TPM_RESPONSE_MALFORMED', `TPM2_${command}: malformed response (${why})`);
  }
}
