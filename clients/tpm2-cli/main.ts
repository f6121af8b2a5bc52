import { nodeIo } from './io.ts';
import { run } from './run.ts';

// `npm run --silent tpm2 -- <command> …` (package.json: tsx clients/tpm2-cli/main.ts).
process.exitCode = await run(process.argv.slice(2), nodeIo);
