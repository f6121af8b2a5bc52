import type { TokenTimings } from '../constants.ts';
import { Atecc } from './atecc.ts';
import { ProvisioningApi } from './http-api.ts';
import { SerialServer } from './serial-server.ts';
import { TokenFirmware } from './token-firmware.ts';

/**
 * A software MASTR token: the emulated ATECC, the serial protocol over TCP and the provisioning HTTP API,
 * with power cycles. What the firmware evaluates only at boot (provisioned or not, the HTTP routes, serial
 * enabled) is re-evaluated only by `powerCycle()` — exactly why a real token must be replugged after
 * provisioning (MASTR.md §2.1).
 */
export interface TokenEmulatorOptions {
  serial: { host: string; port: number };
  http?: { host: string; port: number };
  /** Persist slots 0 and 8 here (JSON, 0600); without it the chip lives in memory. */
  stateFile?: string;
  timings?: Partial<TokenTimings>;
  debugBuild?: boolean;
  /** Background ATECC task time for the HTTP API (default 50 ms). */
  httpTaskMs?: number;
  log?(line: string): void;
}

export class TokenEmulator {
  firmware: TokenFirmware;
  api: ProvisioningApi | null = null;
  readonly atecc: Atecc;
  serialAddress = { host: '', port: 0 };
  httpAddress: { host: string; port: number } | null = null;
  private readonly serial: SerialServer;
  private boots = 0;

  private constructor(private readonly o: TokenEmulatorOptions) {
    this.atecc = Atecc.open(o.stateFile);
    this.serial = new SerialServer((chunk) => this.firmware.rx(chunk));
    this.firmware = this.bootFirmware();
  }

  static async start(o: TokenEmulatorOptions): Promise<TokenEmulator> {
    const e = new TokenEmulator(o);
    e.serialAddress = await e.serial.listen(o.serial.port, o.serial.host);
    if (o.http) {
      e.api = e.bootApi();
      e.httpAddress = await e.api.listen(o.http.port, o.http.host);
    }
    return e;
  }

  private bootFirmware(): TokenFirmware {
    this.boots++;
    return new TokenFirmware({
      atecc: this.atecc,
      ...(this.o.timings ? { timings: this.o.timings } : {}),
      debugBuild: this.o.debugBuild ?? false,
      output: (bytes) => this.serial.send(bytes),
      log: (line) => this.o.log?.(`[token boot ${this.boots}] ${line}`),
    });
  }

  private bootApi(): ProvisioningApi {
    return new ProvisioningApi({
      atecc: this.atecc,
      debugBuild: this.o.debugBuild ?? false,
      protocolState: () => this.firmware.state,
      taskMs: this.o.httpTaskMs ?? 50,
    });
  }

  /** Unplug and replug: RAM state (session, keys, bearer, HALT) is gone; slots persist. */
  async powerCycle(): Promise<void> {
    this.firmware.powerOff();
    this.serial.disconnect();
    this.atecc.tempKey = null;
    this.firmware = this.bootFirmware();
    if (this.api && this.httpAddress) {
      await this.api.close();
      this.api = this.bootApi();
      this.httpAddress = await this.api.listen(this.httpAddress.port, this.httpAddress.host);
    }
  }

  /** The host side of the USB link goes away (cable pulled as the host sees it), the token keeps running. */
  dropHostConnection(): void {
    this.serial.disconnect();
  }

  async stop(): Promise<void> {
    this.firmware.powerOff();
    await this.serial.close();
    await this.api?.close();
  }
}
