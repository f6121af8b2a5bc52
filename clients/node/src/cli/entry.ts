import { runCli } from './run.ts';

// The bundle's entry point (`npm run build:agent`).
await runCli();
