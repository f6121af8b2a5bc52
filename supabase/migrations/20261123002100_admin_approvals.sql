-- Administrators' FIDO2 security keys and the approval quorum for actions that weaken security
-- (reactivating a suspended node, relaxing a tier policy, adding an EK trust anchor, enrolling a further
-- admin key once the quorum is in force). The Worker verifies WebAuthn ceremonies (@simplewebauthn/server);
-- the database keeps credentials, single-use registration challenges, pending actions and approvals, and
-- executes an action in the same transaction as the approval that completes its quorum.

create table if not exists public.admin_credentials (
  id uuid primary key default gen_random_uuid(),
  admin_user_id uuid not null,
  admin_label text not null,
  credential_id text not null unique check (credential_id ~ '^[A-Za-z0-9_-]+$'),
  public_key_cose text not null,
  key_id text not null check (key_id ~ '^bp1_[0-9a-f]{16}$'),
  algorithm integer not null check (algorithm in (-7, -8, -257)),
  sign_count bigint not null default 0 check (sign_count >= 0),
  transports text[] not null default '{}',
  label text not null check (length(label) between 1 and 200),
  status text not null check (status in ('active', 'pending', 'revoked')),
  created_at timestamptz not null default now(),
  last_used_at timestamptz
);
comment on table public.admin_credentials is 'FIDO2 security keys (WebAuthn credentials) enrolled by administrators; their assertions approve pending actions.';
comment on column public.admin_credentials.id is 'Row id.';
comment on column public.admin_credentials.admin_user_id is 'The Supabase Auth user (JWT sub) who owns the key.';
comment on column public.admin_credentials.admin_label is 'Who, for people: email (user id), as the audit trail writes admins.';
comment on column public.admin_credentials.credential_id is 'WebAuthn credential id, base64url.';
comment on column public.admin_credentials.public_key_cose is 'The credential public key (COSE_Key), base64url.';
comment on column public.admin_credentials.key_id is 'Provara bp1_ id of the raw public key (32-byte Ed25519 or 65-byte P-256 point).';
comment on column public.admin_credentials.algorithm is 'COSE algorithm: -7 ES256, -8 EdDSA, -257 RS256.';
comment on column public.admin_credentials.sign_count is 'Last signature counter seen (0 = the authenticator keeps none).';
comment on column public.admin_credentials.transports is 'Transports the browser reported (usb, nfc, ble, internal, hybrid).';
comment on column public.admin_credentials.label is 'The admin''s name for the key.';
comment on column public.admin_credentials.status is 'active (counts and approves), pending (enrolled while the quorum is in force, waiting for its approval), revoked.';
comment on column public.admin_credentials.created_at is 'Enrolment time.';
comment on column public.admin_credentials.last_used_at is 'Last accepted approval.';
create index if not exists admin_credentials_admin_idx on public.admin_credentials (admin_user_id);

create table if not exists public.webauthn_challenges (
  challenge_hash text primary key check (private.is_sha256_hex(challenge_hash)),
  admin_user_id uuid not null,
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
comment on table public.webauthn_challenges is 'Single-use WebAuthn registration challenges (5 minutes), stored as SHA-256.';
comment on column public.webauthn_challenges.challenge_hash is 'SHA-256 (hex) of the base64url challenge.';
comment on column public.webauthn_challenges.admin_user_id is 'The admin the challenge was issued to.';
comment on column public.webauthn_challenges.expires_at is 'After this the challenge is refused.';
comment on column public.webauthn_challenges.created_at is 'Issue time.';

create table if not exists public.pending_actions (
  id uuid primary key,
  kind text not null check (kind in ('node.reactivate', 'policy.relax', 'ek_anchor.add', 'admin_credential.activate', 'session_key.activate')),
  params jsonb not null check (jsonb_typeof(params) = 'object'),
  statement text not null,
  digest text not null unique check (private.is_sha256_hex(digest)),
  threshold integer not null check (threshold >= 1),
  requested_by text not null,
  status text not null default 'pending' check (status in ('pending', 'executed')),
  result jsonb,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  executed_at timestamptz
);
comment on table public.pending_actions is 'Weakening admin actions waiting for the approvals of distinct administrators'' security keys.';
comment on column public.pending_actions.id is 'Action id (chosen by the Worker, part of the signed statement).';
comment on column public.pending_actions.kind is 'node.reactivate, policy.relax, ek_anchor.add, admin_credential.activate, session_key.activate.';
comment on column public.pending_actions.params is 'The action''s arguments, exactly as the statement carries them.';
comment on column public.pending_actions.statement is 'Canonical JSON statement of the action; approvers sign SHA-256 of it as the WebAuthn challenge.';
comment on column public.pending_actions.digest is 'SHA-256 (hex) of statement: the WebAuthn challenge every approval must carry.';
comment on column public.pending_actions.threshold is 'Distinct administrators whose approval executes the action (ADMIN_APPROVAL_THRESHOLD when requested).';
comment on column public.pending_actions.requested_by is 'Admin who asked for it.';
comment on column public.pending_actions.status is 'pending or executed; a pending action past expires_at is expired and can no longer complete.';
comment on column public.pending_actions.result is 'What the execution returned (the changed node, policy, anchor or credential).';
comment on column public.pending_actions.created_at is 'Request time.';
comment on column public.pending_actions.expires_at is 'Approvals after this are refused (ACTION_EXPIRED).';
comment on column public.pending_actions.executed_at is 'When the quorum was met and the action ran.';

create table if not exists public.action_approvals (
  action_id uuid not null references public.pending_actions (id) on delete cascade,
  admin_user_id uuid not null,
  credential_id text not null,
  evidence jsonb not null check (jsonb_typeof(evidence) = 'object'),
  created_at timestamptz not null default now(),
  primary key (action_id, admin_user_id)
);
comment on table public.action_approvals is 'Verified approvals: one per administrator per action (a second assertion by the same admin counts once).';
comment on column public.action_approvals.action_id is 'The pending action.';
comment on column public.action_approvals.admin_user_id is 'Approving admin.';
comment on column public.action_approvals.credential_id is 'The security key that signed (base64url credential id).';
comment on column public.action_approvals.evidence is 'The assertion as verified: authenticatorData, clientDataJSON, signature (base64url), key id, public key, admin; anyone can re-verify it.';
comment on column public.action_approvals.created_at is 'Approval time.';

alter table public.admin_credentials enable row level security;
alter table public.webauthn_challenges enable row level security;
alter table public.pending_actions enable row level security;
alter table public.action_approvals enable row level security;
revoke all on table public.admin_credentials, public.webauthn_challenges, public.pending_actions, public.action_approvals
  from public, anon, authenticated, service_role;
-- The service role reads (writes go through the functions below); the browser roles get nothing.
grant select on table public.admin_credentials, public.webauthn_challenges, public.pending_actions, public.action_approvals
  to service_role;

-- Distinct admins with an active key: the n of "t of n".
create or replace function private.enrolled_admins() returns bigint
language sql stable security definer set search_path = '' as $$
  select count(distinct c.admin_user_id) from public.admin_credentials c where c.status = 'active'
$$;
comment on function private.enrolled_admins() is 'Number of administrators with at least one active security key.';

create or replace function public.approval_quorum_status()
returns table (enrolled_admins bigint, active_credentials bigint)
language sql stable security definer set search_path = '' as $$
  select private.enrolled_admins(), (select count(*) from public.admin_credentials c where c.status = 'active')
$$;
comment on function public.approval_quorum_status() is 'How many admins (and keys) can approve: the Worker compares it with ADMIN_APPROVAL_THRESHOLD.';

create or replace function public.begin_webauthn_registration(p_admin_user_id uuid, p_challenge_hash text)
returns table (expires_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
begin
  if not private.is_sha256_hex(p_challenge_hash) or p_admin_user_id is null then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'challenge hash must be SHA-256 hex';
  end if;
  delete from public.webauthn_challenges w where w.expires_at < now() - interval '1 day';
  insert into public.webauthn_challenges (challenge_hash, admin_user_id, expires_at)
    values (p_challenge_hash, p_admin_user_id, now() + interval '5 minutes');
  return query select now() + interval '5 minutes';
end
$$;
comment on function public.begin_webauthn_registration(uuid, text) is 'Stores a single-use 5-minute registration challenge for an admin.';

create or replace function private.credential_row(c public.admin_credentials) returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object('id', c.id, 'admin_user_id', c.admin_user_id, 'admin_label', c.admin_label,
    'credential_id', c.credential_id, 'key_id', c.key_id, 'algorithm', c.algorithm, 'label', c.label,
    'status', c.status, 'created_at', c.created_at, 'last_used_at', c.last_used_at)
$$;
comment on function private.credential_row(public.admin_credentials) is 'A credential as the API shows it (no public key).';

-- Consumes the registration challenge and stores the verified credential. Active while the quorum is
-- not in force (p_threshold = 0 or fewer than p_threshold admins enrolled: bootstrap); otherwise pending,
-- to be activated by an admin_credential.activate action.
create or replace function public.add_admin_credential(
  p_admin_user_id uuid, p_admin_label text, p_challenge_hash text, p_credential_id text, p_public_key_cose text,
  p_key_id text, p_algorithm integer, p_sign_count bigint, p_transports jsonb, p_label text, p_threshold integer
) returns table (credential jsonb)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_ch public.webauthn_challenges;
  v_row public.admin_credentials;
  v_status text;
begin
  delete from public.webauthn_challenges w where w.challenge_hash = p_challenge_hash returning * into v_ch;
  if not found or v_ch.admin_user_id <> p_admin_user_id then
    raise exception using errcode = 'P0001', message = 'CHALLENGE_INVALID', detail = 'unknown or used registration challenge';
  end if;
  if v_ch.expires_at <= now() then
    raise exception using errcode = 'P0001', message = 'CHALLENGE_EXPIRED', detail = 'the registration challenge expired';
  end if;
  if exists (select 1 from public.admin_credentials c where c.credential_id = p_credential_id) then
    raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'this security key is already enrolled';
  end if;
  -- One enrolment at a time decides bootstrap vs quorum.
  perform pg_advisory_xact_lock(hashtext('noderr.admin_credentials'));
  v_status := case when coalesce(p_threshold, 0) = 0 or private.enrolled_admins() < p_threshold then 'active' else 'pending' end;
  insert into public.admin_credentials (admin_user_id, admin_label, credential_id, public_key_cose, key_id, algorithm,
      sign_count, transports, label, status)
    values (p_admin_user_id, p_admin_label, p_credential_id, p_public_key_cose, p_key_id, p_algorithm,
      coalesce(p_sign_count, 0),
      coalesce((select array_agg(t) from jsonb_array_elements_text(case when jsonb_typeof(p_transports) = 'array' then p_transports else '[]'::jsonb end) as x(t)), '{}'),
      p_label, v_status)
    returning * into v_row;
  perform private.set_audit_context('admin_api', p_admin_label, null);
  insert into public.audit_events (source, action, actor, node_id, new_status, details)
    values ('admin_api', 'admin_key.enrolled', p_admin_label, null, v_status,
      jsonb_build_object('credential_id', p_credential_id, 'key_id', p_key_id, 'algorithm', p_algorithm,
        'public_key_cose', p_public_key_cose, 'admin_user_id', p_admin_user_id, 'label', p_label));
  return query select private.credential_row(v_row);
end
$$;
comment on function public.add_admin_credential(uuid, text, text, text, text, text, integer, bigint, jsonb, text, integer) is
  'Consumes the registration challenge (CHALLENGE_INVALID / CHALLENGE_EXPIRED) and stores a verified admin security key: active during bootstrap, pending once the quorum is in force; audited.';

create or replace function public.list_admin_credentials(p_credential_id text default null)
returns table (credential jsonb, public_key_cose text, sign_count bigint, transports jsonb)
language sql stable security definer set search_path = '' as $$
  select private.credential_row(c), c.public_key_cose, c.sign_count, to_jsonb(c.transports)
  from public.admin_credentials c
  where p_credential_id is null or c.credential_id = p_credential_id
  order by c.created_at, c.id
$$;
comment on function public.list_admin_credentials(text) is 'Admin security keys, oldest first (or the one with p_credential_id).';

create or replace function private.action_row(p_id uuid) returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object('id', a.id, 'kind', a.kind, 'params', a.params, 'statement', a.statement, 'digest', a.digest,
    'threshold', a.threshold, 'requested_by', a.requested_by,
    'status', case when a.status = 'pending' and a.expires_at <= now() then 'expired' else a.status end,
    'result', a.result, 'created_at', a.created_at, 'expires_at', a.expires_at, 'executed_at', a.executed_at,
    'approvals', coalesce((select jsonb_agg(jsonb_build_object('admin_user_id', p.admin_user_id,
        'admin_label', p.evidence->>'admin_label', 'credential_id', p.credential_id, 'approved_at', p.created_at)
        order by p.created_at) from public.action_approvals p where p.action_id = a.id), '[]'::jsonb))
  from public.pending_actions a where a.id = p_id
$$;
comment on function private.action_row(uuid) is 'A pending action with its approvals, as the API shows it.';

create or replace function public.create_pending_action(
  p_id uuid, p_kind text, p_params jsonb, p_statement text, p_digest text, p_threshold integer,
  p_expires_at timestamptz, p_actor text
) returns table (action jsonb)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
begin
  if p_threshold is null or p_threshold < 1 or p_expires_at <= now() then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'threshold >= 1 and a future expiry';
  end if;
  insert into public.pending_actions (id, kind, params, statement, digest, threshold, requested_by, expires_at)
    values (p_id, p_kind, p_params, p_statement, p_digest, p_threshold, p_actor, p_expires_at);
  insert into public.audit_events (source, action, actor, new_status, details)
    values ('admin_api', 'admin_action.requested', p_actor, 'pending',
      jsonb_build_object('action_id', p_id, 'kind', p_kind, 'params', p_params, 'digest', p_digest,
        'threshold', p_threshold, 'expires_at', p_expires_at));
  return query select private.action_row(p_id);
end
$$;
comment on function public.create_pending_action(uuid, text, jsonb, text, text, integer, timestamptz, text) is
  'Records a weakening action that waits for its quorum; audited as admin_action.requested.';

create or replace function public.get_pending_action(p_id uuid) returns table (action jsonb)
language plpgsql stable security definer set search_path = '' as $$
#variable_conflict use_column
begin
  if not exists (select 1 from public.pending_actions a where a.id = p_id) then
    raise exception using errcode = 'P0001', message = 'ACTION_NOT_FOUND', detail = 'no pending action with this id';
  end if;
  return query select private.action_row(p_id);
end
$$;
comment on function public.get_pending_action(uuid) is 'One pending action with its approvals; ACTION_NOT_FOUND.';

create or replace function public.list_pending_actions(p_status text default null) returns table (action jsonb)
language sql stable security definer set search_path = '' as $$
  select private.action_row(a.id) from public.pending_actions a
  where p_status is null
     or (p_status = 'pending' and a.status = 'pending' and a.expires_at > now())
     or (p_status = 'expired' and a.status = 'pending' and a.expires_at <= now())
     or (p_status = 'executed' and a.status = 'executed')
  order by a.created_at desc limit 200
$$;
comment on function public.list_pending_actions(text) is 'Pending actions newest first (status pending, expired, executed or all).';

-- Runs an action whose quorum is met, with the existing admin functions (so their rules still hold).
create or replace function private.execute_action(p_action public.pending_actions, p_actor text) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
  p jsonb := p_action.params;
  r jsonb;
begin
  case p_action.kind
    when 'node.reactivate' then
      select to_jsonb(s) into r from public.set_node_status(p->>'nodeId', 'active', p->>'reason', p_actor) s;
    when 'policy.relax' then
      select to_jsonb(s) into r from public.put_policy(
        p_tier => p->>'tier', p_require_ek_certificate => (p->>'requireEkCertificate')::boolean,
        p_pcr_selection => p->'pcrSelection', p_pcr_mode => p->>'pcrMode', p_allowed_pcr_values => p->'allowedPcrValues',
        p_reattestation_interval_seconds => (p->>'reattestationIntervalSeconds')::integer,
        p_session_ttl_seconds => (p->>'sessionTtlSeconds')::integer, p_actor => p_actor,
        p_reattestation_grace_seconds => null,
        p_event_log_rules => case when jsonb_typeof(p->'eventLogRules') = 'object' then p->'eventLogRules' else null end) s;
    when 'ek_anchor.add' then
      select to_jsonb(s) into r from public.add_ek_anchor(p->>'label', p->>'pem', p->>'subject', p->>'fingerprint', p_actor) s;
    when 'admin_credential.activate' then
      update public.admin_credentials c set status = 'active'
        where c.credential_id = p->>'credentialId' and c.status = 'pending';
      if not found then
        raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'the security key is no longer pending';
      end if;
      select private.credential_row(c) into r from public.admin_credentials c where c.credential_id = p->>'credentialId';
    when 'session_key.activate' then
      -- private.activate_session_key comes with the session_signing_keys table (next migration); plpgsql
      -- resolves it when an action of this kind first runs.
      r := private.activate_session_key(p->>'kid', p->>'thumbprint', 'quorum', p_actor, p_action.id,
        coalesce((select jsonb_agg(jsonb_build_object('admin_user_id', a.admin_user_id,
            'admin_label', a.evidence->>'admin_label', 'credential_id', a.credential_id, 'approved_at', a.created_at)
            order by a.created_at) from public.action_approvals a where a.action_id = p_action.id), '[]'::jsonb));
  end case;
  return r;
end
$$;
comment on function private.execute_action(public.pending_actions, text) is 'Executes a pending action through the regular admin functions.';

-- One verified approval. The Worker has checked the assertion (signature, origin, rp id, challenge =
-- digest, user presence); here: the action is still pending and unexpired, the key is an active key of
-- this admin, its counter grows, and one admin counts once. Completing the quorum executes the action in
-- this transaction and writes the admin_action.approved audit row carrying every approval's evidence.
create or replace function public.approve_pending_action(
  p_id uuid, p_digest text, p_admin_user_id uuid, p_credential_id text, p_sign_count bigint, p_evidence jsonb, p_actor text
) returns table (action jsonb, counted boolean)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_action public.pending_actions;
  v_cred public.admin_credentials;
  v_n integer;
  v_counted boolean;
  v_result jsonb;
  v_actors text;
begin
  select * into v_action from public.pending_actions a where a.id = p_id for update;
  if not found then
    raise exception using errcode = 'P0001', message = 'ACTION_NOT_FOUND', detail = 'no pending action with this id';
  end if;
  if v_action.status <> 'pending' then
    raise exception using errcode = 'P0001', message = 'ACTION_NOT_PENDING', detail = 'the action was already executed';
  end if;
  if v_action.expires_at <= now() then
    raise exception using errcode = 'P0001', message = 'ACTION_EXPIRED', detail = 'the action expired before its quorum was met';
  end if;
  if v_action.digest <> p_digest then
    raise exception using errcode = 'P0001', message = 'APPROVAL_INVALID', detail = 'the assertion signs another action''s digest';
  end if;
  select * into v_cred from public.admin_credentials c where c.credential_id = p_credential_id for update;
  if not found or v_cred.status <> 'active' or v_cred.admin_user_id <> p_admin_user_id then
    raise exception using errcode = 'P0001', message = 'APPROVAL_INVALID', detail = 'not an active security key of this administrator';
  end if;
  if (p_sign_count <> 0 or v_cred.sign_count <> 0) and p_sign_count <= v_cred.sign_count then
    raise exception using errcode = 'P0001', message = 'APPROVAL_INVALID', detail = 'the signature counter did not grow (cloned key or replayed assertion)';
  end if;
  update public.admin_credentials c set sign_count = p_sign_count, last_used_at = now() where c.id = v_cred.id;
  insert into public.action_approvals (action_id, admin_user_id, credential_id, evidence)
    values (p_id, p_admin_user_id, p_credential_id, p_evidence)
    on conflict (action_id, admin_user_id) do nothing;
  get diagnostics v_n = row_count;
  v_counted := v_n = 1;
  select count(*) into v_n from public.action_approvals p where p.action_id = p_id;
  if v_n >= v_action.threshold then
    select string_agg(p.evidence->>'admin_label', ', ' order by p.created_at) into v_actors
      from public.action_approvals p where p.action_id = p_id;
    v_result := private.execute_action(v_action, format('quorum %s of %s: %s', v_n, v_action.threshold, v_actors));
    update public.pending_actions a set status = 'executed', executed_at = now(), result = v_result where a.id = p_id;
    insert into public.audit_events (source, action, actor, new_status, details)
      values ('admin_api', 'admin_action.approved', v_actors, 'executed',
        jsonb_build_object('action_id', p_id, 'kind', v_action.kind, 'params', v_action.params,
          'statement', v_action.statement, 'digest', v_action.digest, 'threshold', v_action.threshold,
          'approvals', (select jsonb_agg(p.evidence order by p.created_at) from public.action_approvals p where p.action_id = p_id)));
  end if;
  return query select private.action_row(p_id), v_counted;
end
$$;
comment on function public.approve_pending_action(uuid, text, uuid, text, bigint, jsonb, text) is
  'Records a verified approval (one per admin); at the threshold executes the action and audits admin_action.approved with all evidence. ACTION_NOT_FOUND, ACTION_NOT_PENDING, ACTION_EXPIRED, APPROVAL_INVALID.';

do $$
declare
  f regprocedure;
begin
  for f in
    select p.oid::regprocedure from pg_proc p join pg_namespace s on s.oid = p.pronamespace
    where s.nspname = 'public' and p.proname in ('approval_quorum_status', 'begin_webauthn_registration',
      'add_admin_credential', 'list_admin_credentials', 'create_pending_action', 'get_pending_action',
      'list_pending_actions', 'approve_pending_action')
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;
revoke all on function private.enrolled_admins() from public, anon, authenticated, service_role;
revoke all on function private.credential_row(public.admin_credentials) from public, anon, authenticated, service_role;
revoke all on function private.action_row(uuid) from public, anon, authenticated, service_role;
revoke all on function private.execute_action(public.pending_actions, text) from public, anon, authenticated, service_role;
