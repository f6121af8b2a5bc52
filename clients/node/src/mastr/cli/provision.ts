import { HOST_KEY_HANDLE, readHostKey, regenerateHostKey, requireHostKey } from '../host-key.ts';
import { fromHex, toHex } from '../p256.ts';
import {
  LEGACY_TOKEN_PUBKEY_NV_INDEX,
  nvIndexHex,
  readTokenPubkey,
  requireTokenPubkey,
  storeTokenPubkey,
  TOKEN_PUBKEY_NV_INDEX,
} from '../token-pubkey-store.ts';
import { handleNumber, type MastrCommandContext, openTpm, parse, result, usage } from './common.ts';

export const PROVISION_HELP = `noderr-agent mastr provision [--regenerate | --show-pubkey | --set-token-pubkey HEX |
                              --show-token-pubkey | --verify] [--nv-index 0x… | --legacy-nv-index] [--tpm SPEC]
  no flag               which keys exist and where
  --regenerate          a NEW host key at TPM 0x81000080 (evicts the old one); prints its 128-hex public key
  --show-pubkey         the host public key (128 hex), for the token's provisioning
  --set-token-pubkey H  store the token's public key (128 hex) at the owner NV index (default 0x01000080)
  --show-token-pubkey   the stored token public key
  --verify              both present → "Provisioning Complete!" (exit 0), else exit 1
  --legacy-nv-index     read the token key from 0x01c00002 (the seed's index — the TCG RSA EK-certificate
                        index; never written by this tool)`;

const RULE = '='.repeat(64);

/** The seed's `host/provision.py`, on the agent's TPM stack. */
export async function provisionCommand(args: string[], ctx: MastrCommandContext): Promise<number> {
  const { values, positionals } = parse(args, {
    regenerate: { type: 'boolean' },
    'show-pubkey': { type: 'boolean' },
    'set-token-pubkey': { type: 'string' },
    'show-token-pubkey': { type: 'boolean' },
    verify: { type: 'boolean' },
    'nv-index': { type: 'string' },
    'legacy-nv-index': { type: 'boolean' },
  });
  if (positionals.length) throw usage(`provision takes no arguments (got ${positionals.join(' ')})`);
  const modes = (
    ['regenerate', 'show-pubkey', 'set-token-pubkey', 'show-token-pubkey', 'verify'] as const
  ).filter((m) => values[m] !== undefined && values[m] !== false);
  if (modes.length > 1) throw usage(`--${modes.join(', --')} are mutually exclusive`);
  if (values['legacy-nv-index'] && values['nv-index'])
    throw usage('--nv-index and --legacy-nv-index are exclusive');
  if (values['legacy-nv-index'] && modes[0] === 'set-token-pubkey') {
    throw usage('--legacy-nv-index is read-only: the token key is never written to the EK-certificate index');
  }
  const nvIndex = values['legacy-nv-index']
    ? LEGACY_TOKEN_PUBKEY_NV_INDEX
    : values['nv-index']
      ? handleNumber(values['nv-index'], 'nv-index')
      : TOKEN_PUBKEY_NV_INDEX;
  const json = values.json === true;
  const io = ctx.io;
  const where = `TPM2 NV ${nvIndexHex(nvIndex)}`;
  const handle = `TPM2 0x${HOST_KEY_HANDLE.toString(16)}`;

  return openTpm(values.tpm, io, async (tpm) => {
    switch (modes[0]) {
      case 'regenerate': {
        const pub = toHex(await regenerateHostKey(tpm));
        result(
          io,
          json,
          { hostPubkey: pub, handle: `0x${HOST_KEY_HANDLE.toString(16)}` },
          `New host keypair at ${handle}. Host public key (give it to the token):\n${RULE}\n${pub}\n${RULE}`,
        );
        return 0;
      }
      case 'show-pubkey': {
        const pub = toHex(await requireHostKey(tpm));
        result(io, json, { hostPubkey: pub }, pub);
        return 0;
      }
      case 'set-token-pubkey': {
        const raw = fromHex(values['set-token-pubkey']!, 'token public key', 64);
        await storeTokenPubkey(tpm, raw, nvIndex);
        result(
          io,
          json,
          { tokenPubkey: toHex(raw), nvIndex: nvIndexHex(nvIndex) },
          `✓ Token pubkey stored (${where})`,
        );
        return 0;
      }
      case 'show-token-pubkey': {
        const pub = toHex(await requireTokenPubkey(tpm, nvIndex));
        result(io, json, { tokenPubkey: pub, nvIndex: nvIndexHex(nvIndex) }, pub);
        return 0;
      }
      case 'verify': {
        const host = await readHostKey(tpm);
        const token = await readTokenPubkey(tpm, nvIndex);
        const ok = host !== null && token !== null;
        const lines = [
          host
            ? `✓ Host keypair exists (${handle})`
            : `✗ Host keypair missing (${handle}): run provision --regenerate`,
          token
            ? `✓ Token pubkey stored (${where})`
            : `✗ Token pubkey missing (${where}): run provision --set-token-pubkey`,
        ];
        if (ok) {
          lines.push(
            '',
            'Provisioning Complete!',
            '',
            'Next steps:',
            '  1. Install the boot gate (clients/node/mastr-boot/README.md) and rebuild the initramfs.',
            '  2. Enable the guard: systemctl enable noderr-mastr-guard.service',
            '  3. Power-cycle the token, then reboot.',
          );
        }
        if (json) result(io, true, { verified: ok, hostKey: host !== null, tokenPubkey: token !== null }, '');
        else if (ok) io.stdout(`${lines.join('\n')}\n`);
        else io.stderr(`${lines.join('\n')}\n`);
        return ok ? 0 : 1;
      }
      default: {
        const host = await readHostKey(tpm);
        const token = await readTokenPubkey(tpm, nvIndex);
        result(
          io,
          json,
          {
            hostKey: host ? { handle: `0x${HOST_KEY_HANDLE.toString(16)}`, pubkey: toHex(host) } : null,
            tokenPubkey: token ? { nvIndex: nvIndexHex(nvIndex), pubkey: toHex(token) } : null,
          },
          [
            `Host keypair   ${host ? `present (${handle}) ${toHex(host).slice(0, 32)}…` : `missing (${handle})`}`,
            `Token pubkey   ${token ? `present (${where}) ${toHex(token).slice(0, 32)}…` : `missing (${where})`}`,
          ].join('\n'),
        );
        return 0;
      }
    }
  });
}
