import { TPM_ALG } from '../../constants.ts';
import { EFI_GUID } from '../efi-guid.ts';
import { EV } from '../event-types.ts';
import { LeWriter } from '../le-reader.ts';

/**
 * A synthetic crypto-agile event log for tests: Spec ID event, the PCR 7 Secure Boot variables and an
 * authority, a PCR 4 boot application, GRUB's PCR 8 commands and PCR 9 kernel (and initrd) file, and
 * the PCR 5 Exit Boot Services actions — every digest computed the way firmware and GRUB compute it.
 * `events` lists exactly what must be extended into a TPM (in order) for the log to replay to its PCRs.
 */

export type SyntheticBank = 'sha1' | 'sha256' | 'sha384';

export interface SyntheticEvent {
  pcr: number;
  type: number;
  digests: Record<string, Uint8Array>;
  data: Uint8Array;
}

export interface SyntheticLogOptions {
  banks?: SyntheticBank[];
  /** The SecureBoot variable's value: 1 (on) or 0 (off). */
  secureBoot: boolean;
  /** DER certificates for PK, KEK and db (one each is enough); db[0] is logged as the authority. */
  pk: Uint8Array;
  kek: Uint8Array;
  db: Uint8Array;
  /** SHA-256 entries of dbx. */
  dbxSha256?: Uint8Array[];
  /** The PE image of the boot application (its "Authenticode hash" here is simply H(image)). */
  bootApplication?: { path: string; image: Uint8Array };
  kernel: { path: string; contents: Uint8Array };
  initrd?: { path: string; contents: Uint8Array };
  cmdline: string;
}

export interface SyntheticLog {
  bytes: Uint8Array;
  banks: SyntheticBank[];
  events: SyntheticEvent[];
}

const WEBCRYPTO = { sha1: 'SHA-1', sha256: 'SHA-256', sha384: 'SHA-384' } as const;
const ALG = { sha1: TPM_ALG.SHA1, sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384 } as const;
const SIZE = { sha1: 20, sha256: 32, sha384: 48 } as const;
const enc = new TextEncoder();

function guidBytes(guid: string): Uint8Array {
  const h = guid.replaceAll('-', '');
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = Number.parseInt(h.slice(2 * i, 2 * i + 2), 16);
  // The first three fields are little-endian.
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}

function utf16(s: string): Uint8Array {
  const w = new LeWriter();
  for (let i = 0; i < s.length; i++) w.u16(s.charCodeAt(i));
  return w.finish();
}

/** UEFI_VARIABLE_DATA: GUID, u64 name length (characters), u64 data length, UTF-16 name, data. */
export function efiVariableData(guid: string, name: string, data: Uint8Array): Uint8Array {
  return new LeWriter()
    .bytes(guidBytes(guid))
    .u64n(name.length)
    .u64n(data.length)
    .bytes(utf16(name))
    .bytes(data)
    .finish();
}

/** One EFI_SIGNATURE_LIST of `type` holding `entries`, all owned by `owner`. */
export function efiSignatureList(type: string, owner: string, entries: readonly Uint8Array[]): Uint8Array {
  const size = (entries[0]?.length ?? 0) + 16;
  const w = new LeWriter()
    .bytes(guidBytes(type))
    .u32(28 + size * entries.length)
    .u32(0)
    .u32(size);
  for (const e of entries) w.bytes(guidBytes(owner)).bytes(e);
  return w.finish();
}

/** The TCG_PCR_EVENT header carrying a Spec ID Event03 for `banks`. */
function specIdHeader(banks: readonly SyntheticBank[]): Uint8Array {
  const spec = new LeWriter()
    .bytes(enc.encode('Spec ID Event03\0'))
    .u32(0)
    .u8(0)
    .u8(2)
    .u8(0)
    .u8(2)
    .u32(banks.length);
  for (const b of banks) spec.u16(ALG[b]).u16(SIZE[b]);
  const data = spec.u8(0).finish();
  return new LeWriter()
    .u32(0)
    .u32(EV.EV_NO_ACTION)
    .bytes(new Uint8Array(20))
    .u32(data.length)
    .bytes(data)
    .finish();
}

/** A crypto-agile log from a header for `banks` and `events` (TCG_PCR_EVENT2 each). */
export function encodeEventLog(
  banks: readonly SyntheticBank[],
  events: readonly SyntheticEvent[],
): Uint8Array {
  const w = new LeWriter().bytes(specIdHeader(banks));
  for (const e of events) {
    w.u32(e.pcr).u32(e.type).u32(banks.length);
    for (const b of banks) {
      const d = e.digests[b];
      if (!d) throw new Error(`synthetic event lacks a ${b} digest`);
      w.u16(ALG[b]).bytes(d);
    }
    w.u32(e.data.length).bytes(e.data);
  }
  return w.finish();
}

async function digests(
  banks: readonly SyntheticBank[],
  input: Uint8Array,
): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const b of banks) {
    out[b] = new Uint8Array(await crypto.subtle.digest(WEBCRYPTO[b], input as Uint8Array<ArrayBuffer>));
  }
  return out;
}

/** A minimal UEFI_IMAGE_LOAD_EVENT whose device path is one file-path node. */
function imageLoadEvent(path: string): Uint8Array {
  const name = utf16(`${path}\0`);
  const node = new LeWriter()
    .u8(4)
    .u8(4)
    .u16(4 + name.length)
    .bytes(name)
    .finish();
  const end = Uint8Array.of(0x7f, 0xff, 4, 0);
  return new LeWriter()
    .u64n(0x1000)
    .u64n(0x2000)
    .u64n(0)
    .u64n(node.length + end.length)
    .bytes(node)
    .bytes(end)
    .finish();
}

/**
 * @example
 * const log = await buildSyntheticLog({ secureBoot: true, pk, kek, db, kernel, cmdline: 'root=/dev/sda1' });
 * for (const e of log.events) await tpm2(tcti, 'tpm2_pcrextend', [`${e.pcr}:sha256=…,sha1=…`]);
 */
export async function buildSyntheticLog(o: SyntheticLogOptions): Promise<SyntheticLog> {
  const banks = o.banks ?? ['sha1', 'sha256'];
  const events: SyntheticEvent[] = [];
  /** An event whose digest is H(data) — variables, actions, separators. */
  const measured = async (pcr: number, type: number, data: Uint8Array) => {
    events.push({ pcr, type, data, digests: await digests(banks, data) });
  };
  /** An event whose digest is H(other bytes) — images, files, GRUB commands (hashed without prefix). */
  const ofContents = async (pcr: number, type: number, data: Uint8Array, contents: Uint8Array) => {
    events.push({ pcr, type, data, digests: await digests(banks, contents) });
  };
  const separator = new Uint8Array(4);
  const x509List = (der: Uint8Array) => efiSignatureList(EFI_GUID.CERT_X509, EFI_GUID.GLOBAL_VARIABLE, [der]);

  // PCR 7: Secure Boot configuration, then the separator, then the authority that verified the loader.
  const G = EFI_GUID.GLOBAL_VARIABLE;
  const S = EFI_GUID.IMAGE_SECURITY_DATABASE;
  await measured(
    7,
    EV.EV_EFI_VARIABLE_DRIVER_CONFIG,
    efiVariableData(G, 'SecureBoot', Uint8Array.of(o.secureBoot ? 1 : 0)),
  );
  await measured(7, EV.EV_EFI_VARIABLE_DRIVER_CONFIG, efiVariableData(G, 'PK', x509List(o.pk)));
  await measured(7, EV.EV_EFI_VARIABLE_DRIVER_CONFIG, efiVariableData(G, 'KEK', x509List(o.kek)));
  await measured(7, EV.EV_EFI_VARIABLE_DRIVER_CONFIG, efiVariableData(S, 'db', x509List(o.db)));
  const dbx = o.dbxSha256 ?? [];
  await measured(
    7,
    EV.EV_EFI_VARIABLE_DRIVER_CONFIG,
    efiVariableData(
      S,
      'dbx',
      dbx.length > 0 ? efiSignatureList(EFI_GUID.CERT_SHA256, G, dbx) : new Uint8Array(),
    ),
  );
  await measured(7, EV.EV_SEPARATOR, separator);
  const signatureData = new Uint8Array(16 + o.db.length);
  signatureData.set(guidBytes(G));
  signatureData.set(o.db, 16);
  await measured(7, EV.EV_EFI_VARIABLE_AUTHORITY, efiVariableData(S, 'db', signatureData));

  // PCR 4: the boot manager calls the loader.
  await measured(4, EV.EV_EFI_ACTION, enc.encode('Calling EFI Application from Boot Option'));
  await measured(4, EV.EV_SEPARATOR, separator);
  if (o.bootApplication) {
    await ofContents(
      4,
      EV.EV_EFI_BOOT_SERVICES_APPLICATION,
      imageLoadEvent(o.bootApplication.path),
      o.bootApplication.image,
    );
  }

  // GRUB: each command in PCR 8 (digest over the text without prefix and NUL), each file in PCR 9.
  const grub = async (text: string, prefix = 'grub_cmd: ') =>
    ofContents(8, EV.EV_IPL, enc.encode(`${prefix}${text}\0`), enc.encode(text));
  await grub('set root=hd0,gpt1');
  await grub(`linux ${o.kernel.path} ${o.cmdline}`);
  await ofContents(9, EV.EV_IPL, enc.encode(`${o.kernel.path}\0`), o.kernel.contents);
  await grub(`${o.kernel.path} ${o.cmdline}`, 'kernel_cmdline: ');
  if (o.initrd) {
    await grub(`initrd ${o.initrd.path}`);
    await ofContents(9, EV.EV_IPL, enc.encode(`${o.initrd.path}\0`), o.initrd.contents);
  }

  // PCR 5: ExitBootServices.
  await measured(5, EV.EV_EFI_ACTION, enc.encode('Exit Boot Services Invocation'));
  await measured(5, EV.EV_EFI_ACTION, enc.encode('Exit Boot Services Returned with Success'));

  return { bytes: encodeEventLog(banks, events), banks, events };
}
