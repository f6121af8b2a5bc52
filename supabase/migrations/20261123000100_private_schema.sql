-- A schema for helpers that are not part of the API. PostgREST exposes only `public` (config.toml
-- `[api] schemas`), so nothing here is callable over `rpc`, and the API roles get no privileges on it.
create schema if not exists private;
revoke all on schema private from public;
comment on schema private is
  'Internal helpers of the noderr-trust schema (validation, audit context, trigger functions). Not exposed over the API.';

-- SHA-256 hex as the Worker sends it: the only form in which tokens, API keys, nonces and secrets reach SQL.
create or replace function private.is_sha256_hex(p_value text) returns boolean
language sql immutable set search_path = '' as $$
  select p_value is not null and p_value ~ '^[0-9a-f]{64}$'
$$;
comment on function private.is_sha256_hex(text) is
  'True for 64 lowercase hex digits: the SHA-256 form in which secrets are stored.';

-- `{"sha256": [0, 1, …]}`: bank name → distinct PCR indexes 0–23. Used by checks on policies.
create or replace function private.is_pcr_selection(p_value jsonb) returns boolean
language sql immutable set search_path = '' as $$
  select jsonb_typeof(p_value) = 'object'
     and p_value <> '{}'::jsonb
     and not exists (
       select 1 from jsonb_each(p_value) as b(bank, indexes)
       where b.bank not in ('sha1', 'sha256', 'sha384', 'sha512')
          or jsonb_typeof(b.indexes) <> 'array'
          or jsonb_array_length(b.indexes) = 0
          or exists (select 1 from jsonb_array_elements(b.indexes) as i(v)
                     where jsonb_typeof(i.v) <> 'number' or i.v::text !~ '^([0-9]|1[0-9]|2[0-3])$')
          or (select count(distinct i.v) from jsonb_array_elements(b.indexes) as i(v))
             <> jsonb_array_length(b.indexes))
$$;
comment on function private.is_pcr_selection(jsonb) is
  'True for a PCR selection {"<bank>": [indexes 0..23, distinct]} over the banks sha1/sha256/sha384/sha512.';

-- `{"sha256": {"7": "<hex>"}}` (values seen) or, with p_lists, `{"sha256": {"7": ["<hex>", …]}}` (allowed).
create or replace function private.is_pcr_values(p_value jsonb, p_lists boolean) returns boolean
language sql immutable set search_path = '' as $$
  select jsonb_typeof(p_value) = 'object'
     and not exists (
       select 1 from jsonb_each(p_value) as b(bank, pcrs)
       where b.bank not in ('sha1', 'sha256', 'sha384', 'sha512')
          or jsonb_typeof(b.pcrs) <> 'object'
          or exists (
            select 1 from jsonb_each(b.pcrs) as p(idx, v)
            where p.idx !~ '^([0-9]|1[0-9]|2[0-3])$'
               or case when p_lists then
                    jsonb_typeof(p.v) <> 'array' or jsonb_array_length(p.v) = 0
                    or exists (select 1 from jsonb_array_elements(p.v) as e(h)
                               where jsonb_typeof(e.h) <> 'string' or (e.h #>> '{}') !~ '^([0-9a-f]{2})+$')
                  else jsonb_typeof(p.v) <> 'string' or (p.v #>> '{}') !~ '^([0-9a-f]{2})+$' end))
$$;
comment on function private.is_pcr_values(jsonb, boolean) is
  'True for PCR values {"<bank>": {"<index>": "<hex>"}} or, with p_lists, allowlists {"<bank>": {"<index>": ["<hex>", …]}}.';

-- Who is changing state, for the audit triggers. SQL functions set it for their own transaction
-- (is_local = true), so it can never leak to another request on a pooled connection; a change made
-- without it (the Supabase dashboard, psql) is audited as `dashboard`.
create or replace function private.set_audit_context(p_source text, p_actor text, p_reason text)
returns void language sql volatile set search_path = '' as $$
  select set_config('noderr.audit_source', coalesce(p_source, ''), true),
         set_config('noderr.audit_actor', coalesce(p_actor, ''), true),
         set_config('noderr.audit_reason', coalesce(p_reason, ''), true);
$$;
comment on function private.set_audit_context(text, text, text) is
  'Sets the source/actor/reason that audit triggers record for the rest of the current transaction.';
