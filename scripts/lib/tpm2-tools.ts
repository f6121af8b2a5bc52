import { execFile } from 'node:child_process';

/**
 * Runs tpm2-tools against one TPM (normally a swtpm from `startSwtpm`).
 *
 * There is no resource manager in front of swtpm's socket: every transient object or session a tool
 * leaves behind stays loaded, and after three of them the next load fails with 0x902 ("out of memory
 * for object contexts"). So after every tool we flush transient objects and sessions, and callers keep
 * keys as context files (`-c key.ctx`) or persistent handles, which survive the flush.
 *
 * Calls for the same TCTI are serialised: two tools on one socket at once would flush each other's
 * objects (and swtpm serves one connection at a time anyway).
 */

export interface Tpm2RunOptions {
  /** Working directory, where relative file arguments land. */
  cwd?: string;
  /**
   * What to flush after the tool: `all` (default) transient objects, loaded and saved sessions;
   * `transient` keeps sessions — needed between `tpm2_startauthsession` and the tool that uses the
   * saved session file, because flushing saved sessions invalidates `session.ctx`; `none` flushes nothing.
   */
  flush?: 'all' | 'transient' | 'none';
  /** Bytes written to the tool's stdin (e.g. `tpm2_send`). */
  input?: Uint8Array;
}

export interface Tpm2Result {
  stdout: string;
  stderr: string;
  /** stdout as bytes, for tools that write binary output to stdout (`tpm2_send`). */
  stdoutBytes: Uint8Array;
}

const queues = new Map<string, Promise<unknown>>();

function exec(
  tcti: string,
  file: string,
  args: readonly string[],
  opts: Tpm2RunOptions,
): Promise<{ stdout: Buffer; stderr: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: opts.cwd,
        encoding: 'buffer',
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, TPM2TOOLS_TCTI: tcti },
      },
      (err, stdout, stderr) => {
        if (err) {
          const e = new Error(
            `${file} ${args.join(' ')} failed (${err.code ?? err.signal}): ${stderr.toString().trim() || stdout.toString().trim()}`,
          );
          reject(e);
          return;
        }
        resolve({ stdout, stderr });
      },
    );
    if (opts.input) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

async function flush(tcti: string, mode: 'all' | 'transient' | 'none'): Promise<void> {
  if (mode === 'none') return;
  await exec(tcti, 'tpm2_flushcontext', ['-t'], {});
  if (mode === 'all') {
    await exec(tcti, 'tpm2_flushcontext', ['-l'], {});
    await exec(tcti, 'tpm2_flushcontext', ['-s'], {});
  }
}

export type Tpm2Runner = (
  tool: string,
  args: readonly string[],
  opts?: Tpm2RunOptions,
) => Promise<Tpm2Result>;

async function runOnce(
  tcti: string,
  tool: string,
  args: readonly string[],
  opts: Tpm2RunOptions,
): Promise<Tpm2Result> {
  const mode = opts.flush ?? 'all';
  let out: { stdout: Buffer; stderr: Buffer };
  try {
    out = await exec(tcti, tool, args, opts);
  } catch (e) {
    // Still flush what the failed tool left loaded, but report the tool's own error.
    await flush(tcti, mode).catch(() => undefined);
    throw e;
  }
  await flush(tcti, mode);
  return {
    stdout: out.stdout.toString('utf8'),
    stderr: out.stderr.toString('utf8'),
    stdoutBytes: new Uint8Array(out.stdout),
  };
}

/**
 * Runs `fn` with exclusive use of the TPM at `tcti`: no other `tpm2()` call on it runs in between.
 * Needed for sequences that keep state in the TPM across tools (a policy session from
 * `tpm2_startauthsession` used by a later tool).
 */
export function tpm2Exclusive<T>(tcti: string, fn: (run: Tpm2Runner) => Promise<T>): Promise<T> {
  const previous = queues.get(tcti) ?? Promise.resolve();
  const job = previous
    .catch(() => undefined)
    .then(() => fn((tool, args, opts = {}) => runOnce(tcti, tool, args, opts)));
  queues.set(tcti, job);
  // Drop the queue entry once idle so the map does not grow across many swtpm instances.
  void job
    .catch(() => undefined)
    .then(() => {
      if (queues.get(tcti) === job) queues.delete(tcti);
    });
  return job;
}

/**
 * Runs `tool` (e.g. `tpm2_quote`) with `args`; resolves with its output, rejects with its stderr.
 * Transient objects and sessions are flushed afterwards, also when the tool failed.
 *
 * @example
 *   await tpm2(tpm.tcti, 'tpm2_pcrextend', ['7:sha256=' + '00'.repeat(32)]);
 */
export function tpm2(
  tcti: string,
  tool: string,
  args: readonly string[],
  opts: Tpm2RunOptions = {},
): Promise<Tpm2Result> {
  return tpm2Exclusive(tcti, (run) => run(tool, args, opts));
}
