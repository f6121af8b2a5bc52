import { describe, expect, it } from 'vitest';
import { parseJson } from './json-parse.ts';
import { toJson } from './json-value.ts';
import { pyEquals, pyFloatOf, pyRepr, pyStr, pyTruthy } from './python-semantics.ts';
import { Reducer } from './reducer.ts';

const j = parseJson;

describe('Python semantics the reducer depends on (PROVARA.md §4.3)', () => {
  it('truthiness: {} [] "" 0 0.0 null are false; JS would say {} and [] are true', () => {
    for (const f of ['{}', '[]', '""', '0', '0.0', 'null', 'false']) expect(pyTruthy(j(f)), f).toBe(false);
    for (const t of ['{"a":1}', '[0]', '"0"', '1', '-0.5', 'true']) expect(pyTruthy(j(t)), t).toBe(true);
  });

  it('equality: true == 1 == 1.0, deep over lists and dicts, exact for big ints vs floats', () => {
    expect(pyEquals(j('true'), j('1.0'))).toBe(true);
    expect(pyEquals(j('1'), j('1.0'))).toBe(true);
    expect(pyEquals(j('{"a":[1,{"b":true}]}'), j('{"a":[1.0,{"b":1}]}'))).toBe(true);
    expect(pyEquals(j('9007199254740993'), j('9007199254740992.0'))).toBe(false);
    expect(pyEquals(j('"1"'), j('1'))).toBe(false);
    expect(pyEquals(j('null'), j('false'))).toBe(false);
  });

  it('str(): True, None, 1.0, Python dict and list repr with quote choice', () => {
    expect(pyStr(j('true'))).toBe('True');
    expect(pyStr(j('1.0'))).toBe('1.0');
    expect(pyRepr(j('[null,"it\'s",{"k":"v"}]'))).toBe(`[None, "it's", {'k': 'v'}]`);
    expect(pyRepr(j('"a\\nb\\u0001é"'))).toBe("'a\\nb\\x01é'");
    // insertion order survives, as in a Python dict (a JS object would move "1" first)
    expect(pyRepr(j('{"b":1,"1":2}'))).toBe("{'b': 1, '1': 2}");
  });

  it('float(): strings with spaces, underscores, inf/nan, non-ASCII digits; TypeError cases give undefined', () => {
    expect(pyFloatOf(j('" 0.7 "'))).toBe(0.7);
    expect(pyFloatOf(j('"1_0"'))).toBe(10);
    expect(pyFloatOf(j('"1__0"'))).toBeUndefined();
    expect(pyFloatOf(j('"Infinity"'))).toBe(Number.POSITIVE_INFINITY);
    expect(pyFloatOf(j('"-inf"'))).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(pyFloatOf(j('"nan"')))).toBe(true);
    expect(pyFloatOf(j('"١٫٥"'))).toBeUndefined(); // Arabic decimal separator is not '.'
    expect(pyFloatOf(j('"١٥"'))).toBe(15);
    expect(pyFloatOf(j('true'))).toBe(1);
    expect(pyFloatOf(j('[1]'))).toBeUndefined();
    expect(pyFloatOf(j('{}'))).toBeUndefined();
  });
});

describe('reducer edge cases', () => {
  const ev = (id: string, payload: unknown, type = 'OBSERVATION') =>
    toJson({ type, event_id: id, actor: 'a', payload: payload as never });

  it('identical object values are not contested (Python ==, where provara-ts uses !==)', async () => {
    const r = new Reducer();
    r.apply(ev('e1', { subject: 's', predicate: 'p', value: { x: 1 }, confidence: j('0.9') }));
    r.apply(ev('e2', { subject: 's', predicate: 'p', value: { x: j('1.0') }, confidence: j('0.9') }));
    const state = r.exportState();
    expect((state.get('contested') as Map<string, unknown>).size).toBe(0);
    expect((state.get('local') as Map<string, unknown>).has('s:p')).toBe(true);
  });

  it('conflicting high-confidence values become contested with evidence grouped by canonical value', () => {
    const r = new Reducer();
    r.apply(ev('e1', { subject: 's', predicate: 'p', value: 'a', confidence: j('0.9') }));
    r.apply(ev('e2', { subject: 's', predicate: 'p', value: 'b', confidence: j('0.9') }));
    const c = (r.exportState().get('contested') as Map<string, Map<string, unknown>>).get('s:p');
    expect(c?.get('reason')).toBe('conflicts_with_local');
    const byValue = c?.get('evidence_by_value') as Map<string, unknown>;
    expect([...byValue.keys()]).toEqual(['"a"', '"b"']);
  });

  it('a subject of {} is skipped (falsy in Python) but the event still counts', async () => {
    const r = new Reducer();
    r.apply(ev('e1', { subject: {}, predicate: 'p', value: 1 }));
    const s = r.exportState();
    expect((s.get('local') as Map<string, unknown>).size).toBe(0);
    expect((s.get('metadata') as Map<string, unknown>).get('event_count')).toBe(1n);
  });

  it('a non-object payload on a handled type: REDUCER_INPUT_INVALID (Python raises)', () => {
    expect(() => new Reducer().apply(ev('e1', ['x']))).toThrow(
      expect.objectContaining({ code: 'REDUCER_INPUT_INVALID' }),
    );
  });

  it('confidence "inf" cannot be hashed: REDUCER_INPUT_INVALID (Python crashes in json.dumps)', async () => {
    const r = new Reducer();
    r.apply(ev('e1', { subject: 's', predicate: 'p', value: 1, confidence: 'inf' }));
    await expect(r.stateHash()).rejects.toMatchObject({ code: 'REDUCER_INPUT_INVALID' });
  });
});
