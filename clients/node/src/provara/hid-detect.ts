import { readdir, readFile } from 'node:fs/promises';

/**
 * FIDO2 authenticators among the Linux hidraw nodes: a HID report descriptor that declares usage page
 * 0xF1D0 (FIDO Alliance), as CTAP 2.1 §11.2.8 requires — `06 D0 F1` in the descriptor bytes.
 * Other platforms report none here (Windows and macOS need their HID APIs).
 */
export async function detectFidoHidraw(): Promise<{ path: string; name: string }[]> {
  const base = '/sys/class/hidraw';
  const out: { path: string; name: string }[] = [];
  let nodes: string[];
  try {
    nodes = await readdir(base);
  } catch {
    return out;
  }
  for (const n of nodes) {
    try {
      const desc = new Uint8Array(await readFile(`${base}/${n}/device/report_descriptor`));
      const fido = desc.some((b, i) => b === 0x06 && desc[i + 1] === 0xd0 && desc[i + 2] === 0xf1);
      if (!fido) continue;
      const uevent = await readFile(`${base}/${n}/device/uevent`, 'utf8').catch(() => '');
      out.push({ path: `/dev/${n}`, name: /HID_NAME=(.*)/.exec(uevent)?.[1] ?? 'FIDO2 authenticator' });
    } catch {
      // a node we cannot read is not ours to report
    }
  }
  return out;
}
