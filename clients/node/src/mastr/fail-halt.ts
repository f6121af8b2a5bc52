/**
 * Telling the token's two uses of 0x33 apart (MASTR.md §1.3, §4.5, hardening §7.6): one T2H_INTEGRITY_FAIL_HALT
 * is its generic "I rejected that frame" signal (state unchanged: log and carry on); HALT sends one every
 * 1 s forever. Two within `windowMs` (default 2.5 s, i.e. 2.5 halt periods) are the halt stream.
 */
export class FailHaltClassifier {
  private last: number | null = null;

  constructor(private readonly windowMs: number) {}

  record(nowMs: number): 'single' | 'halt' {
    const prev = this.last;
    this.last = nowMs;
    return prev !== null && nowMs - prev <= this.windowMs ? 'halt' : 'single';
  }
}
