import { toHex } from '../../encoding/bytes.ts';
import { digestCommitsTo } from './digest-commitment.ts';
import { EV } from './event-types.ts';
import type { AuthenticatedEvent } from './replay.ts';

/**
 * What GRUB 2 (≥ 2.04, `tpm` verifier) measured: every command it ran into PCR 8 as EV_IPL
 * "grub_cmd: <command>" (and the Linux command line as "kernel_cmdline: <line>"), and every file it
 * read into PCR 9 as EV_IPL whose data is the path and whose digest is the hash of the file's contents
 * (go-eventlog `eventparse`). So the sha256-bank digest of the kernel's PCR 9 event is exactly
 * `sha256sum /boot/vmlinuz-…` — the MASTR golden hash.
 *
 * Authenticated vs reported:
 * - a PCR 8 command or command line is AUTHENTICATED when its digest commits to its text (GRUB hashes
 *   the text without the prefix, with or without the trailing NUL depending on its version); events
 *   whose digest commits to neither are counted in `unverifiedCommands` and otherwise ignored;
 * - a PCR 9 file digest is AUTHENTICATED (it is what was extended); its path is merely REPORTED.
 *   A file is called the kernel (or an initrd) when its reported path equals the path argument of an
 *   authenticated `linux` (or `initrd`) command. Someone who controls grub.cfg could make GRUB read an
 *   allowed kernel file under that path as well as boot another one; pair kernel allowlists with
 *   Secure Boot (the booted kernel must also pass shim's signature check, PCR 4/7).
 */

export interface FileMeasurement {
  sequence: number;
  /** The path GRUB logged — reported, not authenticated. */
  path: string;
  /** The file's digest per authenticated bank, lowercase hex — authenticated. */
  digests: Record<string, string>;
}

export interface GrubFacts {
  /** Authenticated `grub_cmd` texts, in PCR 8 order. */
  commands: string[];
  /** The last authenticated `kernel_cmdline` (GRUB puts the kernel path first, like BOOT_IMAGE). */
  kernelCmdline: string | undefined;
  /** Every PCR 9 file measurement, in order. */
  files: FileMeasurement[];
  /** Files loaded by an authenticated `linux`/`linuxefi`/`linux16` command. */
  kernels: FileMeasurement[];
  /** Files loaded by an authenticated `initrd`/`initrdefi`/`initrd16` command. */
  initrds: FileMeasurement[];
  /** PCR 8 EV_IPL events whose digest commits to none of the accepted forms of their text. */
  unverifiedCommands: number;
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder();
const PREFIXES = ['grub_cmd: ', 'kernel_cmdline: '] as const;
const KERNEL_COMMANDS = new Set(['linux', 'linuxefi', 'linux16']);
const INITRD_COMMANDS = new Set(['initrd', 'initrdefi', 'initrd16']);

function stripNul(s: string): string {
  return s.endsWith('\0') ? s.slice(0, -1) : s;
}

/** GRUB device prefixes like `(hd0,gpt1)` are dropped so `/boot/vmlinuz` matches either spelling. */
function normalizePath(p: string): string {
  return p.replace(/^\([^)]*\)/, '');
}

async function authenticatedText(e: AuthenticatedEvent): Promise<{ kind: string; text: string } | undefined> {
  const raw = latin1.decode(e.data);
  const prefix = PREFIXES.find((p) => raw.startsWith(p));
  if (!prefix) return undefined;
  const body = e.data.subarray(prefix.length);
  const withoutNul = body.length > 0 && body[body.length - 1] === 0 ? body.subarray(0, -1) : body;
  if ((await digestCommitsTo(e, withoutNul)) || (await digestCommitsTo(e, body))) {
    return { kind: prefix, text: utf8.decode(withoutNul) };
  }
  return undefined;
}

export async function grubFacts(events: readonly AuthenticatedEvent[]): Promise<GrubFacts> {
  const out: GrubFacts = {
    commands: [],
    kernelCmdline: undefined,
    files: [],
    kernels: [],
    initrds: [],
    unverifiedCommands: 0,
  };
  const kernelPaths = new Set<string>();
  const initrdPaths = new Set<string>();
  // The digest checks are independent: start them all, then read the results in log order.
  const texts = new Map(
    events.filter((e) => e.type === EV.EV_IPL && e.pcr === 8).map((e) => [e, authenticatedText(e)] as const),
  );
  for (const e of events) {
    if (e.type !== EV.EV_IPL) continue;
    if (e.pcr === 8) {
      const t = await texts.get(e);
      if (!t) {
        out.unverifiedCommands++;
        continue;
      }
      if (t.kind === 'kernel_cmdline: ') {
        out.kernelCmdline = t.text;
        continue;
      }
      out.commands.push(t.text);
      const [command, ...args] = t.text.split(/\s+/);
      if (command && KERNEL_COMMANDS.has(command) && args[0]) kernelPaths.add(normalizePath(args[0]));
      if (command && INITRD_COMMANDS.has(command)) {
        for (const a of args) if (a && !a.startsWith('-')) initrdPaths.add(normalizePath(a));
      }
    } else if (e.pcr === 9) {
      const digests: Record<string, string> = {};
      for (const bank of e.authenticatedBanks) {
        const d = e.digests[bank];
        if (d) digests[bank] = toHex(d);
      }
      out.files.push({ sequence: e.sequence, path: stripNul(utf8.decode(e.data)), digests });
    }
  }
  for (const f of out.files) {
    const p = normalizePath(f.path);
    if (kernelPaths.has(p)) out.kernels.push(f);
    if (initrdPaths.has(p)) out.initrds.push(f);
  }
  return out;
}
