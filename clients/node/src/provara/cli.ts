import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { toBase64 } from '../../../../shared/encoding/bytes.ts';
import { canonicalize } from '../../../../shared/provara/canonical-json.ts';
import { ProvaraError } from '../../../../shared/provara/errors.ts';
import { EVENTS_PATH, readEventLog } from '../../../../shared/provara/event-log.ts';
import { parseJson } from '../../../../shared/provara/json-parse.ts';
import { type JsonObject, stringField, toPlain } from '../../../../shared/provara/json-value.ts';
import { commit, cosign, propose } from '../../../../shared/provara/multisig.ts';
import { Reducer } from '../../../../shared/provara/reducer.ts';
import { startSession } from '../../../../shared/provara/session.ts';
import type { Signer } from '../../../../shared/provara/signature-proof.ts';
import { type EventDraft, Vault } from '../../../../shared/provara/vault.ts';
import { verifyVault } from '../../../../shared/provara/verify.ts';
import type { CliIo } from '../cli/output.ts';
import { enrolFido2, type Fido2Session, openFido2 } from './fido2/fido2-cli.ts';
import { HIDRAW_STANDIN_ENV } from './fido2/hidraw-device.ts';
import { FsVaultFiles } from './fs-vault-files.ts';
import { detectFidoHidraw } from './hid-detect.ts';
import {
  createSoftwareIdentity,
  keyDir,
  listFido2Identities,
  loadFido2Identity,
  loadSoftwareIdentity,
} from './identity-store.ts';
import type { PinSource } from './pkcs11/pin.ts';
import { detectPkcs11Keys, generatePkcs11Key, openPkcs11Signer } from './pkcs11/pkcs11-signer.ts';

const HELP = `noderr-agent provara — signed Provara vaults (Profile A), hardware keys, 2-of-3

  provara init DIR [--hardware-sign] [--uid UID] [--actor NAME]
  provara append DIR --type T --data JSON [--actor NAME] [--hardware-sign] [--key-id bp1_…]
  provara append DIR --batch FILE [--session-ttl SECONDS] [--hardware-sign]
                       FILE: NDJSON, one {"type","actor","data"} per line; one authority signature
                       grants a session key that signs the whole batch
  provara verify DIR [--json] [--expect-root bp1_…]     exit 0 valid, 1 invalid
  provara state DIR
  provara propose DIR --type T --data JSON [--actor NAME]
  provara cosign DIR PROPOSAL_ID [--hardware-sign] [--key-id bp1_…]
  provara commit DIR PROPOSAL_ID [--hardware-sign] [--key-id bp1_…]
  provara keys detect
  provara keys export [DIR] [--hardware-sign]            public key + bp1_ id for enrolment

Hardware (PKCS#11, Ed25519 via CKM_EDDSA — plain Profile A):
  --pkcs11-module PATH (env NODERR_PKCS11_MODULE)  --token LABEL  --key-label LABEL
  PIN: --pin-file FILE, env NODERR_PKCS11_PIN, the token's PIN pad, or a terminal prompt
Hardware (FIDO2 security key over USB HID, webauthn.v1 envelope, one touch per signature):
  --fido2 /dev/hidrawN|auto (env NODERR_FIDO2_DEVICE)   instead of --pkcs11-module
  init makes a credential (Ed25519 if the key supports it, else ES256) and stores its id and public key
  with the software keys; later commands sign with the credential of --key-id or the vault's root key.
Software keys are kept outside the vault in $NODERR_PROVARA_KEY_DIR (default ~/.config/noderr/provara/keys).
`;

const OPTIONS = {
  'hardware-sign': { type: 'boolean' },
  uid: { type: 'string' },
  actor: { type: 'string' },
  type: { type: 'string' },
  data: { type: 'string' },
  batch: { type: 'string' },
  'session-ttl': { type: 'string' },
  json: { type: 'boolean' },
  'expect-root': { type: 'string' },
  'key-id': { type: 'string' },
  'pkcs11-module': { type: 'string' },
  token: { type: 'string' },
  'key-label': { type: 'string' },
  'pin-file': { type: 'string' },
  fido2: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const COMMON_MODULES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so',
  '/usr/lib/x86_64-linux-gnu/libykcs11.so',
  '/usr/local/lib/libykcs11.so',
];

class UsageError extends Error {}

/**
 * `noderr-agent provara …`. Returns the exit code: 0 ok, 1 a vault that fails verification, 2 usage,
 * 3 any other failure (printed with its stable code).
 */
export async function runProvaraCommand(argv: string[], io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  const sessions: Fido2Session[] = [];
  try {
    const { values: o, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    const [cmd, ...args] = positionals;
    if (o.help || !cmd) {
      io.stdout(HELP);
      return cmd || o.help ? 0 : 2;
    }
    const print = (value: Record<string, unknown>, human: string) =>
      io.stdout(json ? `${JSON.stringify(value)}\n` : `${human}\n`);
    const dirArg = () => {
      const d = args[0];
      if (!d) throw new UsageError(`${cmd} needs a vault directory`);
      return d;
    };
    const pin = (): PinSource | undefined =>
      o['pin-file']
        ? { kind: 'file', path: o['pin-file'] }
        : io.env.NODERR_PKCS11_PIN
          ? { kind: 'env', value: io.env.NODERR_PKCS11_PIN }
          : undefined;
    const modulePath = () => {
      const m = o['pkcs11-module'] ?? io.env.NODERR_PKCS11_MODULE;
      if (!m) throw new UsageError('--hardware-sign needs --pkcs11-module PATH or NODERR_PKCS11_MODULE');
      return m;
    };
    /** The FIDO2 device when FIDO2 (not PKCS#11) is the hardware route: flags first, then the env. */
    const fido2Device = (): string | undefined => {
      if (o.fido2 !== undefined && o['pkcs11-module'] !== undefined)
        throw new UsageError('--fido2 and --pkcs11-module are alternatives: give one');
      if (o.fido2 !== undefined) return o.fido2;
      if (o['pkcs11-module'] !== undefined) return undefined;
      const env = io.env.NODERR_FIDO2_DEVICE;
      if (env && io.env.NODERR_PKCS11_MODULE)
        throw new UsageError(
          'both NODERR_FIDO2_DEVICE and NODERR_PKCS11_MODULE are set: choose with --fido2 or --pkcs11-module',
        );
      return env || undefined;
    };
    const onTouch = () => io.stderr('Touch your security key…\n');
    const fido2 = async (device: string, mode: 'create' | 'sign', keyId: string | undefined) => {
      if (io.env[HIDRAW_STANDIN_ENV]) io.stderr(`note: ${HIDRAW_STANDIN_ENV} is set (test seam)\n`);
      const session =
        mode === 'create' && keyId === undefined
          ? await enrolFido2({
              device,
              env: io.env,
              keyDir: keyDir(io.env),
              userName: o.actor ?? 'vault-root',
              onTouch,
            })
          : await openFido2({
              device,
              env: io.env,
              identity: await loadFido2Identity(keyDir(io.env), keyId ?? (await soleFido2Key())),
              onTouch,
            });
      sessions.push(session);
      return session.signer;
    };
    const soleFido2Key = async (): Promise<string> => {
      const all = await listFido2Identities(keyDir(io.env));
      if (all.length !== 1)
        throw new UsageError(
          all.length === 0
            ? 'no FIDO2 credential in the identity store yet'
            : `several FIDO2 credentials (${all.map((c) => c.keyId).join(', ')}): choose one with --key-id`,
        );
      return (all[0] as { keyId: string }).keyId;
    };
    const hardware = async (create: boolean, keyId?: string): Promise<Signer> => {
      const device = fido2Device();
      if (device !== undefined) return fido2(device, create ? 'create' : 'sign', keyId);
      const sel = {
        modulePath: modulePath(),
        ...(o.token ? { tokenLabel: o.token } : {}),
        ...(o['key-label'] ? { keyLabel: o['key-label'] } : {}),
        ...(pin() ? { pin: pin() as PinSource } : {}),
      };
      try {
        return await openPkcs11Signer(sel);
      } catch (e) {
        if (!create || !(e instanceof ProvaraError) || e.code !== 'KEY_NOT_FOUND_ON_TOKEN' || !o['key-label'])
          throw e;
        await generatePkcs11Key({ ...sel, keyLabel: o['key-label'] });
        return openPkcs11Signer(sel);
      }
    };
    const signerFor = async (vault: Vault): Promise<Signer> => {
      if (o['hardware-sign']) return hardware(false, o['key-id'] ?? vault.rootKeyId);
      return loadSoftwareIdentity(keyDir(io.env), o['key-id'] ?? vault.rootKeyId);
    };
    const open = async () => Vault.open(new FsVaultFiles(dirArg()));
    const payloadOf = (text: string | undefined): JsonObject => {
      if (text === undefined) throw new UsageError('--data JSON is required');
      const v = parseJson(text); // never JSON.parse: 1.0 must stay a float, big ints must survive
      if (!(v instanceof Map)) throw new UsageError('--data must be a JSON object');
      return v;
    };

    switch (cmd) {
      case 'init': {
        const dir = dirArg();
        const signer = o['hardware-sign']
          ? await hardware(true, o['key-id'])
          : await createSoftwareIdentity(keyDir(io.env));
        const vault = await Vault.init(new FsVaultFiles(dir), {
          signer,
          ...(o.uid ? { uid: o.uid } : {}),
          ...(o.actor ? { actor: o.actor } : {}),
        });
        print(
          {
            ok: true,
            dir,
            uid: vault.uid,
            rootKeyId: vault.rootKeyId,
            hardware: o['hardware-sign'] === true,
            ...(o['hardware-sign'] ? { algorithm: signer.algorithm, signatureFormat: signer.format } : {}),
          },
          `Initialized vault ${vault.uid} in ${dir}, root key ${vault.rootKeyId}${o['hardware-sign'] ? ' (hardware)' : ''}.`,
        );
        return 0;
      }
      case 'append': {
        const vault = await open();
        const authority = await signerFor(vault);
        if (o.batch) {
          const drafts = await readBatch(o.batch, o.type, o.actor);
          const types = [...new Set(drafts.map((d) => d.type))];
          const actors = [...new Set(drafts.map((d) => d.actor))];
          const ttl = Number(o['session-ttl'] ?? 600);
          if (!(ttl > 0)) throw new UsageError('--session-ttl must be a positive number of seconds');
          const session = await startSession(vault, authority, {
            types,
            actors,
            ttlSeconds: ttl,
            maxEvents: drafts.length,
          });
          await vault.appendBatch(drafts, session.signer);
          await vault.flush();
          print(
            {
              ok: true,
              appended: drafts.length,
              sessionKeyId: session.signer.keyId,
              grantEventId: session.grantEventId,
            },
            `Appended ${drafts.length} events with session key ${session.signer.keyId} (grant ${session.grantEventId}).`,
          );
          return 0;
        }
        if (!o.type) throw new UsageError('append needs --type T (or --batch FILE)');
        const ev = await vault.append(
          { type: o.type, actor: o.actor ?? 'cli', payload: payloadOf(o.data) },
          authority,
        );
        await vault.flush();
        print({ ok: true, eventId: ev.get('event_id') }, `Appended ${String(ev.get('event_id'))}.`);
        return 0;
      }
      case 'verify': {
        const report = await verifyVault(
          new FsVaultFiles(dirArg()),
          o['expect-root'] ? { expectedRootKeyId: o['expect-root'] } : {},
        );
        if (json) io.stdout(`${JSON.stringify(report)}\n`);
        else {
          const lines = [
            `${report.ok ? 'VALID' : 'INVALID'}: ${report.eventCount} events, ids A ${report.eventIdVariants.A} / B ${report.eventIdVariants.B}, state ${report.stateHash ?? '-'}`,
            ...report.errors.map(
              (e) => `  error   ${e.code}${e.provaraCode ? ` (${e.provaraCode})` : ''}: ${e.message}`,
            ),
            ...report.warnings.map((e) => `  warning ${e.code}: ${e.message}`),
          ];
          io.stdout(`${lines.join('\n')}\n`);
        }
        return report.ok ? 0 : 1;
      }
      case 'state': {
        const files = new FsVaultFiles(dirArg());
        const log = await files.read(EVENTS_PATH);
        if (!log) throw new ProvaraError('VAULT_NOT_FOUND', 'no events/events.ndjson');
        const r = new Reducer();
        for (const l of readEventLog(log)) if (l.value) r.apply(l.value);
        const hash = await r.stateHash();
        const state = r.exportState(hash);
        io.stdout(json ? `${JSON.stringify(toPlain(state))}\n` : `${canonicalize(state)}\n`);
        return 0;
      }
      case 'propose': {
        const vault = await open();
        if (!o.type) throw new UsageError('propose needs --type T');
        const p = await propose(vault, {
          type: o.type,
          actor: o.actor ?? 'vault_governance',
          payload: payloadOf(o.data),
        });
        print(
          { ok: true, proposalId: p.proposalId },
          `Proposal ${p.proposalId} written to pending/; collect cosignatures.`,
        );
        return 0;
      }
      case 'cosign':
      case 'commit': {
        const vault = await open();
        const id = args[1];
        if (!id) throw new UsageError(`${cmd} needs DIR PROPOSAL_ID`);
        const signer = await signerFor(vault);
        if (cmd === 'cosign') {
          const p = await cosign(vault, id, signer);
          await vault.flush();
          print(
            { ok: true, cosignatures: p.cosignatures.length },
            `Cosigned ${id} (${p.cosignatures.length} cosignatures).`,
          );
        } else {
          const ev = await commit(vault, id, signer);
          await vault.flush();
          print(
            { ok: true, eventId: ev.get('event_id') },
            `Committed ${id} as ${String(ev.get('event_id'))}.`,
          );
        }
        return 0;
      }
      case 'keys': {
        const sub = args[0];
        if (sub === 'detect') {
          const modules = [
            ...new Set(
              [o['pkcs11-module'] ?? io.env.NODERR_PKCS11_MODULE, ...COMMON_MODULES].filter(
                (m): m is string => !!m && existsSync(m),
              ),
            ),
          ];
          const pkcs11 = [];
          for (const m of modules) {
            try {
              for (const t of await detectPkcs11Keys(m))
                pkcs11.push({
                  module: m,
                  token: t.token.label,
                  slot: t.token.slot,
                  pinPad: t.token.pinPad,
                  keys: t.keys,
                });
            } catch (e) {
              pkcs11.push({ module: m, error: e instanceof Error ? e.message : String(e) });
            }
          }
          const fido2 = await detectFidoHidraw();
          const human = [
            ...pkcs11.map((t) =>
              'error' in t
                ? `pkcs11 ${t.module}: ${t.error}`
                : `pkcs11 ${t.module} token "${t.token}": ${t.keys.map((k) => `${k.label} ${k.keyId}`).join(', ') || 'no Ed25519 keys'}`,
            ),
            ...fido2.map((f) => `fido2  ${f.path} ${f.name}`),
          ];
          print({ ok: true, pkcs11, fido2 }, human.join('\n') || 'No hardware keys found.');
          return 0;
        }
        if (sub === 'export') {
          let keyId: string;
          let publicKey: Uint8Array;
          if (o['hardware-sign'] && fido2Device() !== undefined) {
            // the credential of --key-id, or the only one stored; none stored yet: first use, make it
            const stored = await listFido2Identities(keyDir(io.env));
            const s =
              o['key-id'] === undefined && stored.length === 0
                ? await hardware(true)
                : await loadFido2Identity(keyDir(io.env), o['key-id'] ?? (await soleFido2Key()));
            keyId = s.keyId;
            publicKey = s.publicKey;
          } else if (o['hardware-sign']) {
            const s = await hardware(false);
            keyId = s.keyId;
            publicKey = s.publicKey;
          } else {
            const dir = args[1];
            if (!dir) throw new UsageError('keys export needs a vault DIR or --hardware-sign');
            const vault = await Vault.open(new FsVaultFiles(dir));
            const root = vault.key(o['key-id'] ?? vault.rootKeyId);
            if (!root?.publicKey) throw new ProvaraError('KEY_INVALID', 'the key is not in keys.json');
            keyId = root.keyId;
            publicKey = root.publicKey;
          }
          print(
            {
              ok: true,
              keyId,
              algorithm: publicKey.length === 32 ? 'Ed25519' : 'ES256',
              publicKeyB64: toBase64(publicKey),
            },
            `${keyId} ${toBase64(publicKey)}`,
          );
          return 0;
        }
        throw new UsageError('keys has two subcommands: detect, export');
      }
      default:
        throw new UsageError(`unknown provara command '${cmd}'`);
    }
  } catch (e) {
    const usage =
      e instanceof UsageError ||
      (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'));
    const code = e instanceof ProvaraError ? e.code : usage ? 'USAGE' : 'FAILED';
    const message = e instanceof Error ? e.message : String(e);
    if (json) io.stdout(`${JSON.stringify({ ok: false, error: { code, message } })}\n`);
    else io.stderr(`noderr-agent provara: ${code}: ${message}\n`);
    return usage ? 2 : 3;
  } finally {
    for (const s of sessions) await s.close().catch(() => {});
  }
}

async function readBatch(
  path: string,
  defaultType: string | undefined,
  defaultActor: string | undefined,
): Promise<EventDraft[]> {
  const { readFile } = await import('node:fs/promises');
  const out: EventDraft[] = [];
  for (const l of readEventLog(new Uint8Array(await readFile(path)))) {
    if (!(l.value instanceof Map))
      throw new UsageError(`batch line ${l.line}: ${l.error?.message ?? 'not an object'}`);
    const type = stringField(l.value, 'type') ?? defaultType;
    const data = l.value.get('data');
    if (!type || !(data instanceof Map))
      throw new UsageError(`batch line ${l.line}: needs "type" (or --type) and a "data" object`);
    out.push({ type, actor: stringField(l.value, 'actor') ?? defaultActor ?? 'cli', payload: data });
  }
  if (out.length === 0) throw new UsageError('the batch file has no events');
  return out;
}
