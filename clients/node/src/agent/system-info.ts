import { cpus, freemem, hostname, loadavg, platform, release, totalmem, uptime } from 'node:os';

/** What the agent reports about its host (informational for the API; never secrets). */
export function systemInfo(): Record<string, string | number> {
  return {
    hostname: hostname(),
    cpuCores: cpus().length,
    memoryGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
  };
}

export const AGENT_VERSION = '0.1.0';

export function heartbeatMetrics(): { uptime: number; cpu: number; memory: number; version: string } {
  const cores = Math.max(1, cpus().length);
  return {
    uptime: Math.round(uptime()),
    cpu: Math.round(((loadavg()[0] ?? 0) / cores) * 1000) / 10,
    memory: Math.round((1 - freemem() / totalmem()) * 1000) / 10,
    version: AGENT_VERSION,
  };
}
