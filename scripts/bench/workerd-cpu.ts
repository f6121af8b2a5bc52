import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of the workerd process that serves the Worker under `wrangler dev`, read from
 * /proc/<pid>/task/<tid>/schedstat (nanoseconds on CPU, summed over its threads). Measured around one request at a time, the delta is the CPU that
 * request cost inside the runtime (the Worker's JavaScript and WebCrypto, plus workerd's HTTP handling):
 * an upper bound of what Cloudflare bills as CPU time, with I/O waits excluded.
 */
export function findWorkerdPid(parentPid: number): number {
  const out = execFileSync('ps', ['-eo', 'pid,ppid,comm', '--no-headers']).toString();
  const procs = out
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .map(([pid, ppid, comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm: comm ?? '' }));
  const descendants = new Set([parentPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (descendants.has(p.ppid) && !descendants.has(p.pid)) {
        descendants.add(p.pid);
        grew = true;
      }
    }
  }
  const workerd = procs.find((p) => descendants.has(p.pid) && p.comm.startsWith('workerd'));
  if (!workerd) throw new Error('no workerd process under wrangler dev');
  return workerd.pid;
}

/** CPU milliseconds the process has used so far (all its threads). */
export function cpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return ns / 1e6;
}
