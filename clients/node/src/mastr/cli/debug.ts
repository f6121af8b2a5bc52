import { messageName } from '../constants.ts';
import { MastrError } from '../errors.ts';
import { decryptFrameBody, encryptFrameBody } from '../frame-crypto.ts';
import { decodeInnerFrame, encodeInnerFrame, FrameReceiver, wrapFrame } from '../framing.ts';
import { fromHex, toHex } from '../p256.ts';
import { deriveSessionKey } from '../session-key.ts';
import { type MastrCommandContext, parse, result, usage } from './common.ts';

export const DEBUG_HELP = `noderr-agent mastr debug frame --type 0xNN [--payload HEX] [--key HEX [--iv HEX]]
noderr-agent mastr debug unframe HEX [--key HEX]
noderr-agent mastr debug session-key --secret HEX
noderr-agent mastr debug decrypt --key HEX --frame HEX
  Hex in, hex out, for reading serial captures: frame = wire bytes (7f … 7e) of a message (encrypted with
  --key); unframe = every frame in a capture, checked; session-key = HKDF of a 32-byte ECDH secret;
  decrypt = the inner frame of one encrypted frame (wire bytes or the bare IV ‖ C ‖ tag body).`;

function inner(bytes: Uint8Array) {
  const f = decodeInnerFrame(bytes);
  return {
    type: `0x${f.type.toString(16).padStart(2, '0')}`,
    name: messageName(f.type),
    payload: toHex(f.payload),
  };
}

/** Bodies of the frames in wire bytes; bare (unframed) bytes count as one body. */
function bodies(bytes: Uint8Array): Uint8Array[] {
  if (bytes[0] !== 0x7f) return [bytes];
  const out: Uint8Array[] = [];
  for (const ev of new FrameReceiver().push(bytes)) {
    if (ev.kind === 'error') throw ev.error;
    out.push(ev.body);
  }
  return out;
}

export async function debugCommand(args: string[], ctx: MastrCommandContext): Promise<number> {
  const { values, positionals } = parse(args, {
    type: { type: 'string' },
    payload: { type: 'string' },
    key: { type: 'string' },
    iv: { type: 'string' },
    secret: { type: 'string' },
    frame: { type: 'string' },
  });
  const json = values.json === true;
  const [sub, arg, ...extra] = positionals;
  if (extra.length) throw usage(`debug ${sub}: unexpected ${extra.join(' ')}`);
  const key = values.key === undefined ? undefined : fromHex(values.key, '--key', 16);
  switch (sub) {
    case 'frame': {
      if (!values.type || !/^(0x)?[0-9a-f]{1,2}$/i.test(values.type))
        throw usage('debug frame needs --type 0xNN');
      const type = Number.parseInt(values.type.replace(/^0x/i, ''), 16);
      const innerFrame = encodeInnerFrame(type, fromHex(values.payload ?? '', '--payload'));
      const iv = values.iv === undefined ? undefined : fromHex(values.iv, '--iv', 12);
      const wire = wrapFrame(key ? encryptFrameBody(key, innerFrame, iv) : innerFrame);
      result(ctx.io, json, { inner: toHex(innerFrame), wire: toHex(wire) }, toHex(wire));
      return 0;
    }
    case 'unframe': {
      if (!arg) throw usage('debug unframe needs the captured bytes as HEX');
      const frames: Record<string, unknown>[] = [];
      for (const ev of new FrameReceiver().push(fromHex(arg, 'capture'))) {
        if (ev.kind === 'error') {
          frames.push({ error: ev.error.code, message: ev.error.message });
          continue;
        }
        try {
          frames.push({ body: toHex(ev.body), ...inner(key ? decryptFrameBody(key, ev.body) : ev.body) });
        } catch (e) {
          if (!(e instanceof MastrError)) throw e;
          frames.push({ body: toHex(ev.body), error: e.code, message: e.message });
        }
      }
      const human = frames
        .map((f) =>
          f.error
            ? `✗ ${String(f.error)}: ${String(f.message)}`
            : `${String(f.name)} payload=${String(f.payload) || '(empty)'}`,
        )
        .join('\n');
      result(ctx.io, json, { frames }, human || '(no frames)');
      return frames.some((f) => f.error) ? 1 : 0;
    }
    case 'session-key': {
      if (!values.secret) throw usage('debug session-key needs --secret HEX (32 bytes)');
      const k = toHex(deriveSessionKey(fromHex(values.secret, '--secret', 32)));
      result(ctx.io, json, { sessionKey: k }, k);
      return 0;
    }
    case 'decrypt': {
      if (!key || !values.frame) throw usage('debug decrypt needs --key HEX and --frame HEX');
      const [body, ...more] = bodies(fromHex(values.frame, '--frame'));
      if (!body || more.length) throw usage('debug decrypt takes exactly one frame');
      const plain = decryptFrameBody(key, body);
      const f = inner(plain);
      result(ctx.io, json, { inner: toHex(plain), ...f }, `${f.name} payload=${f.payload || '(empty)'}`);
      return 0;
    }
    default:
      throw usage('debug subcommands: frame, unframe, session-key, decrypt');
  }
}
