import 'reflect-metadata';
import { env } from 'cloudflare:workers';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';

// Validate the configuration when the Worker is loaded: a misconfigured deploy fails at upload
// (`wrangler deploy` runs the module's top level) instead of failing every request.
loadConfig(env);

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
