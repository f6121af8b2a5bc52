-- Install tokens: issued by an admin from the dApp, given to an installer once, consumed by the
-- successful activation of exactly one node. Only the SHA-256 of the token is stored.
create table if not exists public.install_tokens (
  id uuid primary key default gen_random_uuid(),
  token_hash text not null unique check (private.is_sha256_hex(token_hash)),
  application_id uuid not null,
  tier text not null check (tier in ('ALL', 'ORACLE', 'GUARDIAN')),
  os text not null check (os in ('linux', 'windows')),
  is_used boolean not null default false,
  used_at timestamptz,
  used_by_node text,
  revoked_at timestamptz,
  created_by text,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default (now() + interval '7 days'),
  constraint install_tokens_used_consistent check (is_used = (used_at is not null)),
  constraint install_tokens_used_by_node_only_when_used check (used_by_node is null or is_used),
  -- A used token cannot be revoked, and a revoked token cannot be used: at most one end state.
  constraint install_tokens_single_end_state check (not (is_used and revoked_at is not null)),
  constraint install_tokens_lifetime check (expires_at > created_at and expires_at <= created_at + interval '7 days')
);

comment on table public.install_tokens is
  'One-time admission tickets for new nodes. The token (ndr_install_…) is shown once to the admin; only its SHA-256 is kept. Status is derived: revoked, used, expired or active.';
comment on column public.install_tokens.id is 'Token id, used by the admin API (revoke) and in audit events.';
comment on column public.install_tokens.token_hash is 'SHA-256 (lowercase hex) of the token string; the token itself is never stored.';
comment on column public.install_tokens.application_id is 'The dApp application the node will serve.';
comment on column public.install_tokens.tier is 'Tier the registered node gets: ALL, ORACLE or GUARDIAN.';
comment on column public.install_tokens.os is 'Operating system of the installer: linux or windows.';
comment on column public.install_tokens.is_used is 'True once a node registered with this token (set only by complete_registration).';
comment on column public.install_tokens.used_at is 'When the token was consumed.';
comment on column public.install_tokens.used_by_node is 'node_id of the node created with this token.';
comment on column public.install_tokens.revoked_at is 'When an admin revoked the token; revocation is final and impossible once used.';
comment on column public.install_tokens.created_by is 'Admin (Supabase user id or email) who issued the token.';
comment on column public.install_tokens.created_at is 'When the token was issued.';
comment on column public.install_tokens.expires_at is 'Past this the token is refused; at most 7 days after issue.';

create index if not exists install_tokens_created_at_idx on public.install_tokens (created_at desc);

alter table public.install_tokens enable row level security;
-- The API roles get nothing; the service role may read, and writes only through the SQL functions.
revoke all on table public.install_tokens from public, anon, authenticated, service_role;
grant select on table public.install_tokens to service_role;
