-- Per-tier attestation policy, managed with the admin API (`GET/PUT /api/v1/admin/policies/{tier}`).
-- The Worker reads it on every registration and re-attestation, so an admin change applies at once.
create table if not exists public.attestation_policies (
  tier text primary key check (tier in ('ALL', 'ORACLE', 'GUARDIAN')),
  require_ek_certificate boolean not null,
  pcr_selection jsonb not null check (private.is_pcr_selection(pcr_selection)),
  pcr_mode text not null check (pcr_mode in ('baseline', 'allowlist', 'none')),
  allowed_pcr_values jsonb not null default '{}'::jsonb check (private.is_pcr_values(allowed_pcr_values, true)),
  reattestation_interval_seconds integer not null check (reattestation_interval_seconds between 60 and 2592000),
  reattestation_grace_seconds integer not null default 600 check (reattestation_grace_seconds between 0 and 86400),
  session_ttl_seconds integer not null check (session_ttl_seconds between 60 and 3600),
  event_log_rules jsonb check (event_log_rules is null or jsonb_typeof(event_log_rules) = 'object'),
  version integer not null default 1 check (version >= 1),
  updated_at timestamptz not null default now(),
  updated_by text
);

comment on table public.attestation_policies is
  'What a node of each tier must prove: one row per tier (ALL, ORACLE, GUARDIAN). Edit through the admin API so the change is audited.';
comment on column public.attestation_policies.tier is 'The node tier this policy applies to.';
comment on column public.attestation_policies.require_ek_certificate is
  'Whether registration needs an EK certificate chaining to a trusted manufacturer or extra anchor. Without one the EK is trusted on first use (still bound by credential activation).';
comment on column public.attestation_policies.pcr_selection is
  'PCRs a quote must cover, {"sha256": [0,1,…]}.';
comment on column public.attestation_policies.pcr_mode is
  'baseline: the values seen at registration must not change; allowlist: each selected PCR must be one of allowed_pcr_values; none: quotes are checked for freshness and signature only.';
comment on column public.attestation_policies.allowed_pcr_values is
  'For pcr_mode allowlist: {"sha256": {"7": ["<hex>", …]}}. Ignored by the other modes.';
comment on column public.attestation_policies.reattestation_interval_seconds is
  'How often a node must answer a re-attestation request with a fresh quote.';
comment on column public.attestation_policies.reattestation_grace_seconds is
  'Grace after a re-attestation falls due: past due + grace with no valid answer, the next heartbeat suspends the node (audit reason reattestation_missed).';
comment on column public.attestation_policies.session_ttl_seconds is
  'Lifetime of node session JWTs minted by /auth/verify (at most one hour).';
comment on column public.attestation_policies.event_log_rules is
  'Measured-boot rules (null = none): requireSecureBoot, kernelSha256Allowlist, initrdSha256Allowlist, '
  'bootApplicationSha256Allowlist, dbMustContain, dbxMustContain. When set, registration and re-attestation '
  'must send the event log, which must replay to the quoted PCRs and satisfy every rule.';
comment on column public.attestation_policies.version is
  'Incremented on every change; nodes record the version they were last attested under.';
comment on column public.attestation_policies.updated_at is 'When the policy was last changed.';
comment on column public.attestation_policies.updated_by is 'Admin (user id or email) who last changed it; null for the shipped default.';

-- API.md's defaults: ORACLE and GUARDIAN need an EK certificate, ALL does not; baseline over sha256 0–7;
-- re-attestation hourly; sessions of 15 minutes.
insert into public.attestation_policies
  (tier, require_ek_certificate, pcr_selection, pcr_mode, reattestation_interval_seconds, session_ttl_seconds)
values
  ('ALL', false, '{"sha256": [0,1,2,3,4,5,6,7]}', 'baseline', 3600, 900),
  ('ORACLE', true, '{"sha256": [0,1,2,3,4,5,6,7]}', 'baseline', 3600, 900),
  ('GUARDIAN', true, '{"sha256": [0,1,2,3,4,5,6,7]}', 'baseline', 3600, 900)
on conflict (tier) do nothing;

alter table public.attestation_policies enable row level security;
-- The API roles get nothing; the service role may read, and writes only through the SQL functions.
revoke all on table public.attestation_policies from public, anon, authenticated, service_role;
grant select on table public.attestation_policies to service_role;
