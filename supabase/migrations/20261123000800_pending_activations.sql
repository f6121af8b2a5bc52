-- A registration whose attestation passed, waiting for the node to prove (TPM2_ActivateCredential)
-- that the AK lives in the same TPM as the EK. Holds everything needed to create the node on success.
create table if not exists public.pending_activations (
  id uuid primary key default gen_random_uuid(),
  install_token_id uuid not null references public.install_tokens (id) on delete cascade,
  node_id text not null check (node_id ~ '^0x[0-9a-f]{64}$'),
  public_key text not null check (public_key like '-----BEGIN PUBLIC KEY-----%'),
  ek_fingerprint text not null check (private.is_sha256_hex(ek_fingerprint)),
  ak_public text not null check (ak_public ~ '^[A-Za-z0-9+/]+={0,2}$'),
  ak_name text not null check (ak_name ~ '^([0-9a-f]{2})+$'),
  pcr_baseline jsonb not null check (private.is_pcr_values(pcr_baseline, false)),
  attestation_data jsonb not null default '{}'::jsonb check (jsonb_typeof(attestation_data) = 'object'),
  policy_version integer not null check (policy_version >= 1),
  clock bigint not null check (clock >= 0),
  reset_count bigint not null check (reset_count >= 0),
  restart_count bigint not null check (restart_count >= 0),
  clock_safe boolean not null,
  secret_hash text not null check (private.is_sha256_hex(secret_hash)),
  attempts integer not null default 0 check (attempts between 0 and 3),
  state text not null default 'pending' check (state in ('pending', 'completed', 'failed')),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default (now() + interval '10 minutes'),
  completed_at timestamptz,
  constraint pending_activations_completed check ((state = 'completed') = (completed_at is not null)),
  constraint pending_activations_lifetime check (expires_at > created_at)
);

comment on table public.pending_activations is
  'Registrations that passed attestation and wait for credential activation (POST /auth/activate). Valid 10 minutes; dropped (state failed) after 3 wrong secrets.';
comment on column public.pending_activations.id is 'The activationId given to the node.';
comment on column public.pending_activations.install_token_id is 'The token that will be consumed when activation succeeds.';
comment on column public.pending_activations.node_id is 'The node id the node will get (0x + SHA-256 of its key''s SPKI).';
comment on column public.pending_activations.public_key is 'The certified node key, SPKI PEM.';
comment on column public.pending_activations.ek_fingerprint is 'SHA-256 (hex) of the EK public area.';
comment on column public.pending_activations.ak_public is 'The AK (TPM2B_PUBLIC, base64).';
comment on column public.pending_activations.ak_name is 'The AK''s TPM Name (hex), bound into the credential blob.';
comment on column public.pending_activations.pcr_baseline is 'PCR values of the registration quote.';
comment on column public.pending_activations.attestation_data is 'Operator-facing registration data (systemInfo, EK certificate subject, …).';
comment on column public.pending_activations.policy_version is 'Version of the tier policy the registration was verified under.';
comment on column public.pending_activations.clock is 'clockInfo.clock of the registration quote.';
comment on column public.pending_activations.reset_count is 'clockInfo.resetCount of the registration quote.';
comment on column public.pending_activations.restart_count is 'clockInfo.restartCount of the registration quote.';
comment on column public.pending_activations.clock_safe is 'clockInfo.safe of the registration quote.';
comment on column public.pending_activations.secret_hash is 'SHA-256 (hex) of the secret wrapped by MakeCredential; the node must return the secret.';
comment on column public.pending_activations.attempts is 'Wrong secrets so far; the third makes the activation fail for good.';
comment on column public.pending_activations.state is 'pending, completed (the node exists) or failed (3 wrong secrets).';
comment on column public.pending_activations.created_at is 'When the registration passed.';
comment on column public.pending_activations.expires_at is 'Activation must happen before this.';
comment on column public.pending_activations.completed_at is 'When activation succeeded.';

create index if not exists pending_activations_token_idx on public.pending_activations (install_token_id);
create index if not exists pending_activations_expires_idx on public.pending_activations (expires_at);

alter table public.pending_activations enable row level security;
-- The API roles get nothing; the service role may read, and writes only through the SQL functions.
revoke all on table public.pending_activations from public, anon, authenticated, service_role;
grant select on table public.pending_activations to service_role;
