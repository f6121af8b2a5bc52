import { EXIT, exitCodeFor } from '../agent/exit-codes.ts';
import { AgentError } from '../errors.ts';

/** Where the CLI writes: injectable so tests can run commands in-process. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  env: Readonly<Record<string, string | undefined>>;
}

export const processIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  env: process.env,
};

/**
 * `--json`: one JSON object on stdout (`ok` true/false); otherwise readable lines. A failure is
 * `{"ok":false,"error":{"code","message","details":{…}},"exitCode":N}`; `details` is always present (empty
 * when there is nothing to add) and carries the API's `apiCode`, `status`, `requestId` and, for
 * ATTESTATION_INVALID, the verifier's `reason`.
 */
export interface Output {
  json: boolean;
  progress(step: string): void;
  result(value: Record<string, unknown>, human: string): void;
  event(e: Record<string, unknown>): void;
  failure(e: unknown): number;
}

export function makeOutput(io: CliIo, json: boolean): Output {
  return {
    json,
    progress(step) {
      if (!json) io.stderr(`• ${step}\n`);
    },
    result(value, human) {
      io.stdout(json ? `${JSON.stringify({ ok: true, ...value })}\n` : `${human}\n`);
    },
    event(e) {
      const at = new Date().toISOString();
      if (json) io.stdout(`${JSON.stringify({ at, ...e })}\n`);
      else {
        const { event, ...rest } = e;
        const detail = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        io.stderr(`${at} ${String(event)}${detail ? ` ${detail}` : ''}\n`);
      }
    },
    failure(e) {
      const err =
        e instanceof AgentError
          ? e
          : new AgentError('API_UNREACHABLE', e instanceof Error ? e.message : String(e));
      const unexpected = !(e instanceof AgentError);
      const exit = unexpected ? EXIT.failure : exitCodeFor(err.code);
      if (json) {
        io.stdout(
          `${JSON.stringify({
            ok: false,
            error: {
              code: unexpected ? 'INTERNAL' : err.code,
              message: err.message,
              // Always an object, so installers can test `error.details.apiCode` / `.reason` without guards.
              details: err.details ?? {},
            },
            exitCode: exit,
          })}\n`,
        );
      } else io.stderr(`noderr-agent: ${unexpected ? 'INTERNAL' : err.code}: ${err.message}\n`);
      return exit;
    },
  };
}
