-- Nonces handed out for freshness: bound to an install token (registration) or to a node (session,
-- re-attestation). Single use. The nonce is generated in the Worker; only its SHA-256 is stored.
create table if not exists public.attestation_challenges (
  id uuid primary key default gen_random_uuid(),
  nonce_hash text not null unique check (private.is_sha256_hex(nonce_hash)),
  purpose text not null check (purpose in ('install', 'session', 'reattestation')),
  install_token_id uuid references public.install_tokens (id) on delete cascade,
  node_id text references public.node_identities (node_id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  constraint attestation_challenges_binding check (
    case purpose when 'install' then install_token_id is not null and node_id is null
                 else node_id is not null and install_token_id is null end),
  constraint attestation_challenges_lifetime check (expires_at > created_at)
);

comment on table public.attestation_challenges is
  'Single-use nonces (stored as SHA-256): install (10 min, bound to a token, answered by the registration quote), session (5 min, bound to a node, signed for /auth/verify), reattestation (bound to a node, answered with a fresh quote before the deadline).';
comment on column public.attestation_challenges.id is 'Row id.';
comment on column public.attestation_challenges.nonce_hash is 'SHA-256 (hex) of the 32-byte nonce.';
comment on column public.attestation_challenges.purpose is 'install, session or reattestation.';
comment on column public.attestation_challenges.install_token_id is 'For install challenges: the token the nonce is bound to.';
comment on column public.attestation_challenges.node_id is 'For session and reattestation challenges: the node the nonce is bound to.';
comment on column public.attestation_challenges.created_at is 'When the nonce was issued.';
comment on column public.attestation_challenges.expires_at is 'The nonce is refused after this (for reattestation: the deadline).';
comment on column public.attestation_challenges.used_at is 'When the nonce was consumed; a nonce is accepted once.';

create index if not exists attestation_challenges_token_idx
  on public.attestation_challenges (install_token_id) where install_token_id is not null;
create index if not exists attestation_challenges_node_idx
  on public.attestation_challenges (node_id, purpose) where node_id is not null;
create index if not exists attestation_challenges_expires_idx on public.attestation_challenges (expires_at);

alter table public.attestation_challenges enable row level security;
-- The API roles get nothing; the service role may read, and writes only through the SQL functions.
revoke all on table public.attestation_challenges from public, anon, authenticated, service_role;
grant select on table public.attestation_challenges to service_role;
