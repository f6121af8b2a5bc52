-- Extensions the schema relies on. On Supabase, extensions live in the `extensions` schema.
-- pgcrypto: digest() for SHA-256 of tokens and keys inside SQL functions, gen_random_bytes() for nonces.
create extension if not exists pgcrypto with schema extensions;
