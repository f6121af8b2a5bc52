-- History of every attestation decision: registrations (passed or failed) and periodic re-attestations.
create table if not exists public.attestations (
  id bigint generated always as identity primary key,
  node_id text references public.node_identities (node_id) on delete cascade,
  install_token_id uuid references public.install_tokens (id) on delete cascade,
  kind text not null check (kind in ('registration', 'reattestation')),
  result text not null check (result in ('passed', 'failed')),
  reason text check (reason is null or reason ~ '^[A-Z][A-Z0-9_]*$'),
  pcr_values jsonb check (pcr_values is null or private.is_pcr_values(pcr_values, false)),
  clock bigint check (clock >= 0),
  reset_count bigint check (reset_count >= 0),
  restart_count bigint check (restart_count >= 0),
  clock_safe boolean,
  policy_version integer,
  details jsonb not null default '{}'::jsonb check (jsonb_typeof(details) = 'object'),
  created_at timestamptz not null default now(),
  constraint attestations_subject check (node_id is not null or install_token_id is not null),
  constraint attestations_reason check ((result = 'failed') = (reason is not null)),
  constraint attestations_reattestation_has_node check (kind = 'registration' or node_id is not null)
);

comment on table public.attestations is
  'Every attestation verdict: registrations (by install token, and node once created) and re-attestations (by node), with the failure reason.';
comment on column public.attestations.id is 'Row id (increasing).';
comment on column public.attestations.node_id is 'The node (null for a registration that never produced a node).';
comment on column public.attestations.install_token_id is 'For registrations: the install token used.';
comment on column public.attestations.kind is 'registration or reattestation.';
comment on column public.attestations.result is 'passed or failed.';
comment on column public.attestations.reason is 'For failures: the verifier reason code (PCR_POLICY_VIOLATION, SIGNATURE_INVALID, …).';
comment on column public.attestations.pcr_values is 'PCR values of the quote, when it could be parsed.';
comment on column public.attestations.clock is 'clockInfo.clock of the quote.';
comment on column public.attestations.reset_count is 'clockInfo.resetCount of the quote.';
comment on column public.attestations.restart_count is 'clockInfo.restartCount of the quote.';
comment on column public.attestations.clock_safe is 'clockInfo.safe of the quote.';
comment on column public.attestations.policy_version is 'Version of the tier policy applied.';
comment on column public.attestations.details is 'Further facts for operators (never secrets).';
comment on column public.attestations.created_at is 'When the verdict was recorded.';

create index if not exists attestations_node_idx on public.attestations (node_id, created_at desc) where node_id is not null;
create index if not exists attestations_token_idx on public.attestations (install_token_id) where install_token_id is not null;

alter table public.attestations enable row level security;
-- The API roles get nothing; the service role may read, and writes only through the SQL functions.
revoke all on table public.attestations from public, anon, authenticated, service_role;
grant select on table public.attestations to service_role;
