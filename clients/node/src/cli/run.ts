import { main } from './main.ts';

/** The process entry: wires SIGTERM/SIGINT to a graceful stop and exits with main's code. */
export async function runCli(): Promise<void> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const code = await main(process.argv.slice(2), undefined, ac.signal);
  process.exitCode = code;
  // Nothing else should keep the loop alive; exit explicitly so a stray handle cannot hang a daemon stop.
  setTimeout(() => process.exit(code), 50).unref();
}
