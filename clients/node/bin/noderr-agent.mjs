#!/usr/bin/env node
// Development launcher: runs the TypeScript sources through tsx's loader, in this process (no child
// process, so nothing extra shows in ps). The distributed agent is the single-file bundle from
// `npm run build:agent` (dist/noderr-agent.mjs), which needs no node_modules.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/run.ts');
await runCli();
