import { requireHostKey } from '../host-key.ts';
import { defaultIntegrityFile, hashIntegrityFile } from '../integrity.ts';
import { fromHex } from '../p256.ts';
import { ProvisioningClient } from '../provisioning-client.ts';
import { provisionToken } from '../token-provisioning.ts';
import { nvIndexHex, storeTokenPubkey, TOKEN_PUBKEY_NV_INDEX } from '../token-pubkey-store.ts';
import {
  handleNumber,
  type MastrCommandContext,
  openTpm,
  parse,
  positiveNumber,
  result,
  usage,
} from './common.ts';

export const TOKEN_PROVISION_HELP = `noderr-agent mastr token-provision --url http://192.168.4.1 [--claim] [--bearer HEX]
        [--host-pubkey HEX] [--golden-hash HEX | --file PATH] [--store-token-pubkey] [--nv-index 0x…]
  The token's provisioning HTTP API instead of the browser steps (join the MASTR-Token WiFi first):
  unclaimed token → --claim prints the new WiFi password (reboot the token, rejoin, run again);
  claimed token   → bearer, token public key, host public key (from TPM 0x81000080 unless --host-pubkey),
                    golden hash (--golden-hash, else SHA-256 of --file, else of the running kernel's image);
  --store-token-pubkey also stores the token key in this TPM (as provision --set-token-pubkey).
  The bearer is issued once per token boot: keep it (env MASTR_BEARER or --bearer) to call again.
  Reboot the token afterwards: it checks "provisioned" only at boot.`;

export async function tokenProvisionCommand(args: string[], ctx: MastrCommandContext): Promise<number> {
  const { values, positionals } = parse(args, {
    url: { type: 'string' },
    claim: { type: 'boolean' },
    bearer: { type: 'string' },
    'host-pubkey': { type: 'string' },
    'golden-hash': { type: 'string' },
    file: { type: 'string' },
    'store-token-pubkey': { type: 'boolean' },
    'nv-index': { type: 'string' },
    'poll-ms': { type: 'string' },
  });
  if (positionals.length) throw usage('token-provision takes no arguments');
  if (!values.url) throw usage('token-provision needs --url http://192.168.4.1');
  if (values['golden-hash'] && values.file) throw usage('--golden-hash and --file are exclusive');
  const bearer = values.bearer ?? ctx.io.env.MASTR_BEARER;
  if (bearer !== undefined && !/^[0-9a-f]{64}$/.test(bearer))
    throw usage('the bearer is 64 lowercase hex characters');
  const json = values.json === true;
  const io = ctx.io;
  const pollMs =
    values['poll-ms'] === undefined ? undefined : positiveNumber(values['poll-ms'], 'poll-ms', 500);
  const nvIndex = values['nv-index'] ? handleNumber(values['nv-index'], 'nv-index') : TOKEN_PUBKEY_NV_INDEX;

  const client = new ProvisioningClient({ baseUrl: values.url, ...(bearer ? { bearer } : {}) });
  const progress = (s: string) => {
    if (!json) io.stderr(`• ${s}\n`);
  };
  // With --claim the golden hash is only needed if the token turns out to be claimed already.
  const goldenHash = values['golden-hash']
    ? fromHex(values['golden-hash'], 'golden hash', 32)
    : values.file || !values.claim
      ? hashIntegrityFile(values.file ?? defaultIntegrityFile())
      : undefined;
  const needTpm = !values['host-pubkey'] || values['store-token-pubkey'] === true;
  const hostPubFlag = values['host-pubkey']
    ? fromHex(values['host-pubkey'], 'host public key', 64)
    : undefined;

  const run = async (hostPub: Uint8Array | undefined, store?: (raw: Uint8Array) => Promise<void>) => {
    const r = await provisionToken(client, {
      claim: values.claim === true,
      ...(hostPub ? { hostPub } : {}),
      ...(goldenHash ? { goldenHash } : {}),
      ...(pollMs ? { pollDelayMs: () => pollMs } : {}),
      progress,
    });
    if (r.stage === 'claimed') {
      result(
        io,
        json,
        { ...r },
        `Claimed. WiFi ${r.ssid} password: ${r.psk}\nReboot the token, join ${r.ssid} with this password, then run token-provision again.`,
      );
      return 0;
    }
    let stored = false;
    if (store) {
      await store(fromHex(r.tokenPub, 'token public key', 64));
      stored = true;
    }
    const lines =
      r.stage === 'already-provisioned'
        ? [
            `The token is already provisioned (state ${String(r.status.state)}).`,
            `Token public key: ${r.tokenPub}`,
          ]
        : [
            `Bearer token (valid until the token reboots): ${r.bearer}`,
            `Token public key: ${r.tokenPub}`,
            `✓ Host public key written: ${r.hostPub}`,
            `✓ Golden hash written: ${r.goldenHash}`,
            stored
              ? `✓ Token pubkey stored (TPM2 NV ${nvIndexHex(nvIndex)})`
              : `Store it: noderr-agent mastr provision --set-token-pubkey ${r.tokenPub}`,
            'Now power-cycle the token (it checks "provisioned" only at boot).',
          ];
    result(io, json, { ...r, tokenPubkeyStored: stored }, lines.join('\n'));
    return 0;
  };

  if (!needTpm) return run(hostPubFlag);
  return openTpm(values.tpm, io, async (tpm) =>
    run(
      hostPubFlag ?? (await requireHostKey(tpm)),
      values['store-token-pubkey'] ? (raw) => storeTokenPubkey(tpm, raw, nvIndex) : undefined,
    ),
  );
}
