import { parseArgs } from 'node:util';
import { type AgentContext, apiClient, withTpm } from '../agent/context.ts';
import { runDaemon } from '../agent/daemon.ts';
import { defaultEventLogSource, EVENT_LOG_ENV, eventLogOverride } from '../agent/event-log.ts';
import { EXIT } from '../agent/exit-codes.ts';
import { heartbeatOnce } from '../agent/heartbeat.ts';
import { register, TEST_ONLY_KILL_POINTS, type TestOnlyKillPoint } from '../agent/register.ts';
import { defaultStateDir, StateStore } from '../agent/state.ts';
import { AGENT_VERSION } from '../agent/system-info.ts';
import { unregister } from '../agent/unregister.ts';
import { AgentError } from '../errors.ts';
import { getHandles, tpmInfo } from '../tpm/capability.ts';
import { EK_CERT_INDEX } from '../tpm/ek.ts';
import { TpmCommandError } from '../tpm/framing.ts';
import { nvReadPublic } from '../tpm/nv.ts';
import { defaultTpmSpec, parseTpmSpec } from '../tpm/transport.ts';
import { type CliIo, makeOutput, processIo } from './output.ts';

const HELP = `noderr-agent ${AGENT_VERSION} — hardware-rooted node admission (TPM 2.0)

Usage:
  noderr-agent tpm info                     manufacturer, firmware, PCR banks, EK certificates
  noderr-agent register [TOKEN|-] --api-url URL
                                            register this node (token from NODERR_INSTALL_TOKEN,
                                            stdin with '-', or the argument — visible in ps)
  noderr-agent heartbeat                    one challenge → verify → heartbeat (answers re-attestation)
  noderr-agent run                          daemon: heartbeats, re-attestation, backoff, SIGTERM-safe
  noderr-agent status                       what the state directory says
  noderr-agent unregister [--keep-state]    evict the agent's AK and node key from the TPM (only if they
                                            are still the recorded ones) and remove its state and
                                            credentials; the node stays registered at the API until an
                                            admin revokes it
  noderr-agent mastr …                      MASTR hardware-token boot gate: provision, golden-hash,
                                            token-provision, bootstrap, guard, emulate-token, debug
                                            (noderr-agent mastr --help)
  noderr-agent provara …                    signed Provara vaults with hardware keys (PKCS#11, FIDO2),
                                            2-of-3 approvals, session batches (noderr-agent provara --help)

Options:
  --tpm SPEC          swtpm:host=H,port=P | device:/dev/tpmrm0 | tbs   (env NODERR_TPM;
                      default: the registered one, else ${defaultTpmSpec()})
  --state-dir DIR     state and credentials, 0600 files (env NODERR_STATE_DIR; default ${defaultStateDir()})
  --json              machine-readable output (one JSON object; \`run\`: one JSON event per line)
  --api-url URL       (register) the API base URL
  --ek rsa|ecc|auto   (register) which EK to use; auto prefers one with a certificate in NV (ECC first)
  --force             (register) replace an existing registration, and evict objects of other
                      programs from the agent's key handles (0x81008001, 0x81008002)
  --keep-state        (unregister) evict the keys but leave the state directory as it is
  --interval SECONDS  (register: stored default; run: override) heartbeat interval, default 60
  --backoff-max SECONDS  (run) longest wait between retries while the API is down, default 300
  --event-log FILE|none|default
                      (register, heartbeat, run) the TCG boot event log sent with every attestation,
                      for tiers that judge measured boot (env ${EVENT_LOG_ENV}; register records it for
                      heartbeat and run; default: ${defaultEventLogSource()} when present)

Exit codes: 0 ok, 1 unexpected failure, 2 usage, 3 not registered / already registered, 4 TPM error,
  5 API rejected the request, 6 API unreachable, 7 a key handle holds another program's object,
  8 activated but the credentials were lost (an admin must revoke the node), 10 node revoked,
  11 node suspended.
`;

const OPTIONS = {
  tpm: { type: 'string' },
  'state-dir': { type: 'string' },
  json: { type: 'boolean' },
  'api-url': { type: 'string' },
  ek: { type: 'string' },
  force: { type: 'boolean' },
  'keep-state': { type: 'boolean' },
  interval: { type: 'string' },
  'backoff-max': { type: 'string' },
  'backoff-base-ms': { type: 'string' },
  'event-log': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

function usage(message: string): AgentError {
  return new AgentError('USAGE', `${message} (see noderr-agent --help)`);
}

function positiveNumber(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw usage(`--${name} must be a positive number`);
  return n;
}

async function readToken(
  arg: string | undefined,
  io: CliIo,
  warn: (s: string) => void,
  required: boolean,
): Promise<string | undefined> {
  let token: string | undefined;
  if (arg === '-') token = (await io.readStdin()).trim();
  else if (arg) {
    warn(
      'the install token on the command line is visible to other users (ps); prefer NODERR_INSTALL_TOKEN or -',
    );
    token = arg;
  } else token = io.env.NODERR_INSTALL_TOKEN?.trim();
  if (!token && !required) return undefined;
  if (!token)
    throw usage('register needs the install token (NODERR_INSTALL_TOKEN, - for stdin, or an argument)');
  if (!/^ndr_install_[0-9a-f]{64}$/.test(token))
    throw usage('the install token must be ndr_install_ + 64 hex characters');
  return token;
}

/** Runs the CLI; resolves with the exit code. `signal` stops `run` (the bin wires SIGTERM/SIGINT to it). */
export async function main(argv: string[], io: CliIo = processIo, signal?: AbortSignal): Promise<number> {
  // `mastr …` has its own commands and options (clients/node/src/mastr/cli/).
  if (argv[0] === 'mastr')
    return (await import('../mastr/cli/mastr-cli.ts')).runMastr(argv.slice(1), io, signal);
  // `provara …`: signed Provara vaults and hardware keys (clients/node/src/provara/cli.ts).
  if (argv[0] === 'provara') return (await import('../provara/cli.ts')).runProvaraCommand(argv.slice(1), io);
  let json = argv.includes('--json');
  let out = makeOutput(io, json);
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    json = values.json === true;
    out = makeOutput(io, json);
    if (values.version) {
      out.result({ version: AGENT_VERSION }, AGENT_VERSION);
      return EXIT.ok;
    }
    const [cmd, sub, ...rest] = positionals;
    if (values.help || !cmd) {
      io.stdout(HELP);
      return cmd || values.help ? EXIT.ok : EXIT.usage;
    }
    const store = new StateStore(values['state-dir'] ?? defaultStateDir(io.env));
    const pending = cmd === 'register' || cmd === 'unregister' ? store.readPending() : undefined;
    const registered = cmd === 'register' ? undefined : store.readState();
    // The TPM the agent's keys live in: the registered one, an interrupted registration's, the key record's.
    const recordedTpm =
      registered?.tpm ?? pending?.state.tpm ?? (cmd === 'unregister' ? store.readKeys()?.tpm : undefined);
    const tpmSpec = values.tpm ?? io.env.NODERR_TPM ?? recordedTpm ?? defaultTpmSpec();
    parseTpmSpec(tpmSpec); // a bad --tpm is a usage error before anything else happens
    const warn = (m: string) => io.stderr(`noderr-agent: warning: ${m}\n`);
    const ctx = (apiUrl: string, extra: Partial<AgentContext> = {}): AgentContext => ({
      store,
      tpmSpec,
      api: apiClient(apiUrl),
      progress: out.progress,
      warn,
      ...extra,
    });
    // --event-log / NODERR_EVENT_LOG for this run; heartbeat and run fall back to what register recorded.
    const eventLog = eventLogOverride(values['event-log'], io.env);

    switch (cmd) {
      case 'tpm': {
        if (sub !== 'info' || rest.length > 0) throw usage('tpm has one subcommand: info');
        const r = await withTpm({ tpmSpec }, async (tpm) => {
          const info = await tpmInfo(tpm);
          const ekCertificates: Record<string, { nvIndex: string; size: number } | null> = {};
          for (const kind of ['rsa', 'ecc'] as const) {
            try {
              const pub = await nvReadPublic(tpm, EK_CERT_INDEX[kind]);
              ekCertificates[kind] = { nvIndex: `0x${EK_CERT_INDEX[kind].toString(16)}`, size: pub.dataSize };
            } catch (e) {
              if (!(e instanceof TpmCommandError && e.rc.name === 'TPM_RC_HANDLE')) throw e;
              ekCertificates[kind] = null;
            }
          }
          const persistent = (await getHandles(tpm, 0x81000000)).map((h) => `0x${h.toString(16)}`);
          return { tpm: tpmSpec, ...info, ekCertificates, persistentHandles: persistent };
        });
        const certs = Object.entries(r.ekCertificates)
          .map(([k, v]) => `${k.toUpperCase()} ${v ? `${v.size} bytes at ${v.nvIndex}` : 'none'}`)
          .join(', ');
        out.result(
          r,
          [
            `TPM           ${r.tpm}`,
            `Manufacturer  ${r.manufacturer}${r.vendorString ? ` (${r.vendorString})` : ''}`,
            `Firmware      ${r.firmwareVersion}`,
            `Spec          TPM ${r.family} rev ${r.specRevision / 100} (${r.specYear})`,
            `PCR banks     ${r.pcrBanks.map((b) => `${b.bank} (${b.pcrs.length} PCRs)`).join(', ')}`,
            `EK certs      ${certs}`,
            `Persistent    ${r.persistentHandles.join(' ') || 'none'}`,
          ].join('\n'),
        );
        return EXIT.ok;
      }
      case 'register': {
        if (rest.length > 0) throw usage('register takes one argument, the install token');
        // An interrupted registration is finished first (register.ts): it knows its API and its token was
        // presented already, so neither is required then.
        const apiUrl = values['api-url'] ?? io.env.NODERR_API_URL ?? pending?.state.apiUrl;
        if (!apiUrl || !/^https?:\/\//.test(apiUrl)) throw usage('register needs --api-url http(s)://…');
        const ek = values.ek ?? 'auto';
        if (ek !== 'rsa' && ek !== 'ecc' && ek !== 'auto') throw usage('--ek must be rsa, ecc or auto');
        const installToken = await readToken(
          sub,
          io,
          (w) => io.stderr(`noderr-agent: warning: ${w}\n`),
          pending === undefined,
        );
        const killAt = io.env.NODERR_TEST_ONLY_KILL_AT;
        if (killAt !== undefined && !(TEST_ONLY_KILL_POINTS as readonly string[]).includes(killAt))
          throw usage(`NODERR_TEST_ONLY_KILL_AT must be one of ${TEST_ONLY_KILL_POINTS.join(', ')}`);
        const r = await register(ctx(apiUrl), {
          installToken,
          apiUrl,
          ek,
          force: values.force === true,
          heartbeatIntervalSeconds: positiveNumber(values.interval, 'interval', 60),
          eventLog: eventLog ?? 'default',
          ...(killAt ? { testOnlyKillAt: killAt as TestOnlyKillPoint } : {}),
        });
        out.result(
          { ...r },
          `${r.resumed ? 'Finished the interrupted registration: registered' : 'Registered'} node ${r.nodeId} (tier ${r.tier}, ${r.ekKind.toUpperCase()} EK, certificate: ${r.ekCertificate}${r.eventLog ? `, boot event log: ${r.eventLog.sent ? `sent, ${r.eventLog.bytes} bytes` : 'not sent'}` : ''}). State in ${r.stateDir}.`,
        );
        return EXIT.ok;
      }
      case 'unregister': {
        if (sub) throw usage('unregister takes no arguments');
        const r = await unregister(
          { store, tpmSpec, progress: out.progress },
          { keepState: values['keep-state'] === true },
        );
        const lines = [
          r.nodeId
            ? `Unregistered node ${r.nodeId} from this machine.`
            : 'Removed the agent from this machine.',
          ...r.evicted.map(
            (k) => `TPM: evicted the ${k.role === 'ak' ? 'attestation key' : 'node key'} at ${k.handle}`,
          ),
          ...r.absent.map(
            (k) =>
              `TPM: the ${k.role === 'ak' ? 'attestation key' : 'node key'} at ${k.handle} was already gone`,
          ),
          ...r.kept.map((k) => `TPM: kept ${k.handle}: it ${k.reason}`),
          r.stateKept
            ? `Files: kept the state directory ${r.stateDir} (--keep-state)`
            : `Files: removed ${r.removedFiles.join(', ') || 'nothing'} from ${r.stateDir}${r.stateDirRemoved ? ' (and the directory)' : ''}`,
          `API: ${r.apiRegistration}.`,
        ];
        out.result({ ...r }, lines.join('\n'));
        return EXIT.ok;
      }
      case 'heartbeat': {
        if (sub) throw usage('heartbeat takes no arguments');
        const state = store.requireState();
        const r = await heartbeatOnce(ctx(state.apiUrl, eventLog ? { eventLog } : {}), state);
        out.result(
          { nodeId: state.nodeId, ...r },
          `Heartbeat acknowledged for ${state.nodeId}${r.reattested ? ' (re-attested)' : ''}.`,
        );
        return EXIT.ok;
      }
      case 'run': {
        if (sub) throw usage('run takes no arguments');
        const state = store.requireState();
        const intervalMs = positiveNumber(values.interval, 'interval', state.heartbeatIntervalSeconds) * 1000;
        const backoffMaxMs = positiveNumber(values['backoff-max'], 'backoff-max', 300) * 1000;
        const backoffBaseMs = positiveNumber(
          values['backoff-base-ms'],
          'backoff-base-ms',
          Math.min(5000, intervalMs),
        );
        const ac = new AbortController();
        signal?.addEventListener('abort', () => ac.abort(), { once: true });
        const daemonCtx = ctx(state.apiUrl, {
          // In the daemon a warning is an event like the rest (one JSON line with --json).
          warn: (message) => out.event({ event: 'warning', message }),
          ...(eventLog ? { eventLog } : {}),
        });
        return await runDaemon(daemonCtx, {
          intervalMs,
          backoffBaseMs,
          backoffMaxMs,
          signal: ac.signal,
          event: (e) => out.event(e),
        });
      }
      case 'status': {
        if (sub) throw usage('status takes no arguments');
        const interrupted = registered ? undefined : store.readPending();
        if (interrupted) {
          throw new AgentError(
            'NOT_REGISTERED',
            `the registration of ${interrupted.state.nodeId} was interrupted before it finished: run \`noderr-agent register\` again to finish it`,
            { pendingActivation: true, nodeId: interrupted.state.nodeId },
          );
        }
        const state = store.requireState();
        const s = store.readStatus();
        const value = {
          registered: true,
          nodeId: state.nodeId,
          tier: state.tier,
          apiUrl: state.apiUrl,
          tpm: state.tpm,
          ekKind: state.ekKind,
          akHandle: `0x${state.akHandle.toString(16)}`,
          nodeKeyHandle: `0x${state.nodeKeyHandle.toString(16)}`,
          registeredAt: state.registeredAt,
          heartbeatIntervalSeconds: state.heartbeatIntervalSeconds,
          eventLog: state.eventLog ?? 'default',
          stateDir: store.dir,
          ...s,
        };
        out.result(
          value,
          [
            `Node          ${state.nodeId} (${state.tier})`,
            `API           ${state.apiUrl}`,
            `TPM           ${state.tpm}, ${state.ekKind.toUpperCase()} EK, AK ${value.akHandle}, node key ${value.nodeKeyHandle}`,
            `Registered    ${state.registeredAt}`,
            `Event log     ${state.eventLog ?? 'default'}`,
            `Last beat     ${s.lastHeartbeatAt ?? 'never'}${s.lastAttestationAt ? `, last re-attestation ${s.lastAttestationAt}` : ''}`,
            ...(s.nodeStatus && s.nodeStatus !== 'active' ? [`Node status   ${s.nodeStatus}`] : []),
            ...(s.lastError
              ? [`Last error    ${s.lastError.code} at ${s.lastError.at}: ${s.lastError.message}`]
              : []),
          ].join('\n'),
        );
        return EXIT.ok;
      }
      default:
        throw usage(`unknown command '${cmd}'`);
    }
  } catch (e) {
    if (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS')) {
      return out.failure(usage(e.message));
    }
    return out.failure(e);
  }
}
