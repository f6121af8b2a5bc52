-- Registered nodes: the identity a TPM proved at registration and the state that admits it now.
-- An operator revokes a node by setting `status` here (dashboard) or through the admin API.
create table if not exists public.node_identities (
  id uuid primary key default gen_random_uuid(),
  node_id text not null unique check (node_id ~ '^0x[0-9a-f]{64}$'),
  public_key text not null check (public_key like '-----BEGIN PUBLIC KEY-----%'),
  attestation_data jsonb not null default '{}'::jsonb check (jsonb_typeof(attestation_data) = 'object'),
  tier text not null references public.attestation_policies (tier),
  os text not null check (os in ('linux', 'windows')),
  install_token_id uuid not null unique references public.install_tokens (id),
  status text not null default 'active' check (status in ('active', 'suspended', 'revoked')),
  status_reason text,
  last_seen timestamptz,
  last_metrics jsonb check (last_metrics is null or jsonb_typeof(last_metrics) = 'object'),
  ek_fingerprint text not null check (private.is_sha256_hex(ek_fingerprint)),
  ak_public text not null check (ak_public ~ '^[A-Za-z0-9+/]+={0,2}$'),
  ak_name text not null check (ak_name ~ '^([0-9a-f]{2})+$'),
  pcr_baseline jsonb not null check (private.is_pcr_values(pcr_baseline, false)),
  policy_version integer not null check (policy_version >= 1),
  last_attested_at timestamptz not null default now(),
  attestation_due_at timestamptz not null,
  last_clock bigint check (last_clock >= 0),
  last_reset_count bigint check (last_reset_count >= 0),
  last_restart_count bigint check (last_restart_count >= 0),
  last_clock_safe boolean,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint node_identities_clock_complete check (
    (last_clock is null) = (last_reset_count is null)
    and (last_clock is null) = (last_restart_count is null)
    and (last_clock is null) = (last_clock_safe is null))
);

comment on table public.node_identities is
  'Registered nodes. To revoke a node, set status = ''revoked'' (final); the next verify or heartbeat is refused. Every status change is written to audit_events.';
comment on column public.node_identities.id is 'Row id.';
comment on column public.node_identities.node_id is 'Public node id: 0x + SHA-256 (hex) of the node key''s SPKI DER.';
comment on column public.node_identities.public_key is 'The node key (ECC P-256, SPKI PEM), non-exportable from the TPM (fixedTPM), certified by the AK at registration.';
comment on column public.node_identities.attestation_data is 'What the node reported at registration (systemInfo, EK certificate subject, …), for operators.';
comment on column public.node_identities.tier is 'Tier from the install token; also the reference to the attestation policy that applies.';
comment on column public.node_identities.os is 'Operating system from the install token.';
comment on column public.node_identities.install_token_id is 'The install token consumed to create this node (one node per token).';
comment on column public.node_identities.status is 'active: admitted; suspended: refused until an admin reactivates it; revoked: refused forever (cannot be undone).';
comment on column public.node_identities.status_reason is 'Why the status was last changed (admin reason, pcr_policy_violation, reattestation_missed, …).';
comment on column public.node_identities.last_seen is 'Last heartbeat, written at most once per write interval (heartbeats in between do not write).';
comment on column public.node_identities.last_metrics is 'Metrics of the heartbeat that last wrote last_seen.';
comment on column public.node_identities.ek_fingerprint is 'SHA-256 (hex) of the TPM endorsement key''s public area: the hardware identity. At most one non-revoked node per EK.';
comment on column public.node_identities.ak_public is 'The attestation key (TPM2B_PUBLIC, base64) that signs this node''s quotes.';
comment on column public.node_identities.ak_name is 'TPM Name of the AK (hex), the one credential activation was bound to.';
comment on column public.node_identities.pcr_baseline is 'PCR values quoted at registration {"sha256": {"0": "<hex>"}}: the reference for pcr_mode baseline.';
comment on column public.node_identities.policy_version is 'Version of the tier policy the node was last attested under.';
comment on column public.node_identities.last_attested_at is 'Last successful attestation (registration or re-attestation).';
comment on column public.node_identities.attestation_due_at is 'When the next re-attestation is due (last success + the policy interval).';
comment on column public.node_identities.last_clock is 'TPM clock (ms) of the last accepted quote; quotes must not go back in time.';
comment on column public.node_identities.last_reset_count is 'TPM resetCount of the last accepted quote (increments on reboot).';
comment on column public.node_identities.last_restart_count is 'TPM restartCount of the last accepted quote.';
comment on column public.node_identities.last_clock_safe is 'TPM clockInfo.safe of the last accepted quote.';
comment on column public.node_identities.created_at is 'When the node was registered.';
comment on column public.node_identities.updated_at is 'When the row was last changed (kept by a trigger).';

-- The hardware can belong to one live node only; a revoked node frees its EK for a re-install. This
-- index is also the final guard against two registrations of the same TPM racing each other.
create unique index if not exists node_identities_ek_live_idx
  on public.node_identities (ek_fingerprint) where status <> 'revoked';
create index if not exists node_identities_status_created_idx on public.node_identities (status, created_at desc);
create index if not exists node_identities_created_idx on public.node_identities (created_at desc);

-- The token records which node consumed it (the tables reference each other).
do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'install_tokens_used_by_node_fkey') then
    alter table public.install_tokens add constraint install_tokens_used_by_node_fkey
      foreign key (used_by_node) references public.node_identities (node_id);
  end if;
end
$$;

alter table public.node_identities enable row level security;
-- The API roles get nothing; the service role may read, and writes only through the SQL functions.
revoke all on table public.node_identities from public, anon, authenticated, service_role;
grant select on table public.node_identities to service_role;
