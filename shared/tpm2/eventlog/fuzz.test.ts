import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TpmError } from '../errors.ts';
import { parseEfiSignatureLists } from './efi-signature-list.ts';
import { parseEfiVariable } from './efi-variable.ts';
import { extractFacts } from './facts.ts';
import { type EventLog, parseEventLog } from './parse.ts';
import { replayEventLog } from './replay.ts';
import { syntheticBoot } from './testing/synthetic.ts';
import { loadEventLogVectors } from './testing/vector-logs.ts';

/**
 * Property tests of the event log parsers: mutated real logs, mutated synthetic logs and random bytes
 * never raise anything but a TpmError, never hang, and never hold more event bytes than the input
 * (no allocation from a size field). ≥ 100,000 cases in total.
 */

const read = (p: string) =>
  new Uint8Array(readFileSync(new URL(`../../../../shared/vectors/${p}`, import.meta.url)));
const v = loadEventLogVectors(read);
const REAL = [...v.tpm2Tools.map((l) => l.bytes), v.gceLog, v.windowsLog, v.cryptoAgile, v.ebsMissing];
const SYNTHETIC = (await syntheticBoot()).log.bytes;

const SEED = 20261123;
let total = 0;
const runs = (n: number) => {
  total += n;
  return { numRuns: n, seed: SEED };
};

const edit = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    op: fc.constant('set32' as const),
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 0xffffffff }),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
);
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

function mutate(bytes: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let b = bytes.slice();
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % b.length;
    if (e.op === 'flip' && b.length > 0) b[at]! ^= 1 << e.bit;
    else if (e.op === 'set32' && b.length >= 4)
      new DataView(b.buffer).setUint32(Math.min(at, b.length - 4), e.value, true);
    else if (e.op === 'truncate') b = b.slice(0, at);
    else if (e.op === 'insert') {
      const n = new Uint8Array(b.length + 1);
      n.set(b.subarray(0, at));
      n[at] = e.value;
      n.set(b.subarray(at), at + 1);
      b = n;
    } else if (e.op === 'delete' && b.length > 0) {
      const n = new Uint8Array(b.length - 1);
      n.set(b.subarray(0, at));
      n.set(b.subarray(at + 1), at);
      b = n;
    }
  }
  return b;
}

/** Parses, and checks the result holds no more event bytes than the input had. */
function parseBounded(bytes: Uint8Array): EventLog | undefined {
  try {
    const log = parseEventLog(bytes);
    let held = 0;
    for (const e of log.events) held += e.data.length;
    if (held > bytes.length) throw new Error(`${held} event bytes parsed from ${bytes.length} input bytes`);
    return log;
  } catch (e) {
    if (!(e instanceof TpmError) || e.reason !== 'EVENT_LOG_INVALID') throw e;
    return undefined;
  }
}

function typedOnly(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof TpmError)) throw e;
  }
}

afterAll(() => {
  expect(total).toBeGreaterThanOrEqual(100_000);
});

describe('event log parser fuzz', () => {
  it('mutated real logs: only typed errors, bounded output', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: REAL.length - 1 }),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        (i, edits) => {
          parseBounded(mutate(REAL[i]!, edits));
        },
      ),
      runs(20_000),
    );
  });

  it('mutated synthetic crypto-agile logs (headers and sizes hit more often): only typed errors', () => {
    const head = SYNTHETIC.subarray(0, 600);
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), (edits) => {
        parseBounded(mutate(head, edits));
      }),
      runs(50_000),
    );
  });

  it('random bytes: only typed errors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (b) => {
        parseBounded(b);
      }),
      runs(20_000),
    );
  });

  it('EFI variable and signature list parsers on random and mutated input: only typed errors', () => {
    const seedVar = parseEventLog(SYNTHETIC).events[2]!.data;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), fc.array(edit, { maxLength: 4 }), (b, edits) => {
        const m = mutate(seedVar, edits);
        typedOnly(() => parseEfiVariable(b));
        typedOnly(() => parseEfiSignatureLists(b));
        typedOnly(() => parseEfiSignatureLists(parseEfiVariable(m).data));
      }),
      runs(10_000),
    );
  });

  it('replay and facts of mutated logs: only typed errors', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async (edits) => {
        const log = parseBounded(mutate(SYNTHETIC, edits));
        if (!log) return;
        try {
          await extractFacts(await replayEventLog(log));
        } catch (e) {
          if (!(e instanceof TpmError)) throw e;
        }
      }),
      runs(1_500),
    );
  });
});
