import { FIRMWARE_TOKEN_TIMINGS, scaleTokenTimings } from '../constants.ts';
import { TokenEmulator } from '../emulator/token-emulator.ts';
import { toHex } from '../p256.ts';
import { eventLogger, type MastrCommandContext, parse, positiveNumber, usage } from './common.ts';

export const EMULATE_HELP = `noderr-agent mastr emulate-token --listen 127.0.0.1:PORT [--http 127.0.0.1:PORT] [--state FILE]
        [--debug-build] [--time-scale F]
  A software MASTR token: the serial protocol over TCP (connect with --port tcp:HOST:PORT) and the
  provisioning HTTP API, with the firmware's timings, states, HALT and quirks. --state keeps its key and
  slot 8 across restarts (0600 JSON). SIGHUP = unplug and replug (power cycle). Stops on SIGINT/SIGTERM.`;

function hostPort(v: string, name: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw usage(`--${name} must be HOST:PORT`);
  return { host: m[1]!, port: Number(m[2]) };
}

export async function emulateTokenCommand(args: string[], ctx: MastrCommandContext): Promise<number> {
  const { values, positionals } = parse(args, {
    listen: { type: 'string' },
    http: { type: 'string' },
    state: { type: 'string' },
    'debug-build': { type: 'boolean' },
    'time-scale': { type: 'string' },
    'http-task-ms': { type: 'string' },
  });
  if (positionals.length) throw usage('emulate-token takes no arguments');
  if (!values.listen) throw usage('emulate-token needs --listen HOST:PORT');
  const json = values.json === true;
  const log = eventLogger(ctx.io, json);
  const scale =
    values['time-scale'] === undefined ? 1 : positiveNumber(values['time-scale'], 'time-scale', 1);
  const emu = await TokenEmulator.start({
    serial: hostPort(values.listen, 'listen'),
    ...(values.http ? { http: hostPort(values.http, 'http') } : {}),
    ...(values.state ? { stateFile: values.state } : {}),
    timings: scaleTokenTimings(FIRMWARE_TOKEN_TIMINGS, scale),
    debugBuild: values['debug-build'] === true,
    ...(values['http-task-ms']
      ? { httpTaskMs: positiveNumber(values['http-task-ms'], 'http-task-ms', 50) }
      : {}),
    log: (line) => log({ event: 'token', line }),
  });
  log({
    event: 'emulator-listening',
    serial: `tcp:${emu.serialAddress.host}:${emu.serialAddress.port}`,
    http: emu.httpAddress ? `http://${emu.httpAddress.host}:${emu.httpAddress.port}` : null,
    tokenPubkey: toHex(emu.atecc.tokenPub),
    provisioned: emu.atecc.provisioned,
    bootState: emu.api?.bootState ?? null,
  });
  const onHup = () => {
    void emu.powerCycle().then(() => log({ event: 'power-cycled', provisioned: emu.atecc.provisioned }));
  };
  process.on('SIGHUP', onHup);
  try {
    await new Promise<void>((resolve) => {
      if (!ctx.signal) return; // runs until the process is killed
      if (ctx.signal.aborted) return resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    process.off('SIGHUP', onHup);
    await emu.stop();
  }
  return 0;
}
