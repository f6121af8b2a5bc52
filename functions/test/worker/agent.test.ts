import { describe, expect, it } from 'vitest';
import { call } from './helpers.ts';

describe('GET /agent/noderr-agent.mjs', () => {
  it('serves the agent bundle with its SHA-256 in x-content-sha256', async () => {
    const res = await call('GET', '/agent/noderr-agent.mjs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    const text = String(res.body);
    expect(text.startsWith('#!/usr/bin/env node')).toBe(true);
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
    expect(res.headers.get('x-content-sha256')).toBe(hex);
  });

  it('does not serve the bundle directory at the root', async () => {
    const res = await call('GET', '/noderr-agent.mjs');
    expect(res.status).toBe(404);
  });
});
