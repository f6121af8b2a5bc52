import { ProvaraError } from '../../../../../shared/provara/errors.ts';
import type { Signer } from '../../../../../shared/provara/signature-proof.ts';
import { detectFidoHidraw } from '../hid-detect.ts';
import { type Fido2Identity, saveFido2Identity } from '../identity-store.ts';
import { credentialAlgorithms, getInfo, makeCredential } from './ctap2.ts';
import { CtapHidChannel } from './ctaphid.ts';
import { fido2Signer, PROVARA_RP_ID } from './fido2-signer.ts';
import { openHidraw } from './hidraw-device.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** An open authenticator and the signer on it; `close()` releases the hidraw node. */
export interface Fido2Session {
  signer: Signer;
  identity: Fido2Identity;
  /** True when this call made the credential (MakeCredential), false when it came from the store. */
  created: boolean;
  close(): Promise<void>;
}

/** `--fido2 auto`: the first hidraw node whose report descriptor declares the FIDO usage page. */
export async function resolveFido2Device(arg: string): Promise<string> {
  if (arg !== 'auto') return arg;
  const found = await detectFidoHidraw();
  if (!found[0])
    throw new ProvaraError(
      'HARDWARE_UNAVAILABLE',
      'no FIDO2 authenticator found among the hidraw nodes (--fido2 auto); plug one in or name the node',
    );
  return found[0].path;
}

async function openChannel(
  device: string,
  env: Env,
): Promise<{ ch: CtapHidChannel; close(): Promise<void> }> {
  const dev = await openHidraw(await resolveFido2Device(device), env);
  try {
    const ch = await CtapHidChannel.open(dev);
    if (!ch.supportsCbor)
      throw new ProvaraError(
        'CTAP_ERROR',
        `${dev.path} speaks U2F (CTAP1) only; Provara signing needs CTAP2`,
      );
    return { ch, close: () => dev.close() };
  } catch (e) {
    await dev.close();
    throw e;
  }
}

/** Calls `onTouch` once per operation, when the authenticator reports it waits for the user (status 2). */
const once = (onTouch: () => void) => {
  let told = false;
  return (status: number) => {
    if (status === 2 && !told) {
      told = true;
      onTouch();
    }
  };
};

/**
 * First use: MakeCredential on the device (Ed25519 if GetInfo lists it, else ES256; one touch), the
 * credential id and public key saved in the identity store under the key's `bp1_` id.
 */
export async function enrolFido2(opts: {
  device: string;
  env: Env;
  keyDir: string;
  userName: string;
  onTouch: () => void;
}): Promise<Fido2Session> {
  const { ch, close } = await openChannel(opts.device, opts.env);
  try {
    const algorithms = credentialAlgorithms(await getInfo(ch));
    const cred = await makeCredential(ch, {
      rpId: PROVARA_RP_ID,
      userName: opts.userName,
      algorithms,
      onKeepalive: once(opts.onTouch),
    });
    const identity = await saveFido2Identity(opts.keyDir, { rpId: PROVARA_RP_ID, ...cred });
    const signer = await fido2Signer(ch, cred, { rpId: identity.rpId, onTouch: opts.onTouch });
    return { signer, identity, created: true, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Later use: a signer for a stored credential; each signature is a GetAssertion with user presence. */
export async function openFido2(opts: {
  device: string;
  env: Env;
  identity: Fido2Identity;
  onTouch: () => void;
}): Promise<Fido2Session> {
  const { ch, close } = await openChannel(opts.device, opts.env);
  const { identity } = opts;
  const signer = await fido2Signer(
    ch,
    { credentialId: identity.credentialId, alg: identity.alg, publicKey: identity.publicKey },
    { rpId: identity.rpId, onTouch: opts.onTouch },
  );
  return { signer, identity, created: false, close };
}
