-- Node-session signing keys under the approval quorum. The private keys live in the Worker secret
-- NODE_JWT_KEYS (newest first), which the Worker cannot change; this table records which of them the
-- administrators have approved. The Worker signs only with the ACTIVE key (matched by kid and RFC 7638
-- thumbprint), publishes and accepts the active and the previously active key, and registers every key
-- it finds in the secret as PENDING. Activating a pending key is a weakening action: one admin while the
-- quorum is not in force (bootstrap), otherwise a `session_key.activate` pending action that executes at
-- its threshold. The very first key is activated automatically on first use, in bootstrap only.
-- Every registration, activation and retirement is an audit_events row, hence a line of the signed log.

create table if not exists public.session_signing_keys (
  kid text primary key check (length(kid) between 1 and 200),
  thumbprint text not null check (thumbprint ~ '^[A-Za-z0-9_-]{43}$'),
  public_jwk jsonb not null check (jsonb_typeof(public_jwk) = 'object' and not (public_jwk ? 'd')),
  status text not null default 'pending' check (status in ('pending', 'active', 'retired')),
  first_seen_at timestamptz not null default now(),
  approved_at timestamptz,
  retired_at timestamptz,
  activation_mode text check (activation_mode in ('auto', 'single_admin', 'quorum')),
  activated_by text,
  action_id uuid,
  approvals jsonb not null default '[]'::jsonb check (jsonb_typeof(approvals) = 'array'),
  check ((status = 'pending') = (approved_at is null)),
  check ((status = 'retired') = (retired_at is not null))
);
comment on table public.session_signing_keys is
  'Node-session ES256 signing keys (private parts only in the Worker secret NODE_JWT_KEYS) and their approval: the Worker signs with the active one only.';
comment on column public.session_signing_keys.kid is 'JWK key id, as in NODE_JWT_KEYS and the JWT header.';
comment on column public.session_signing_keys.thumbprint is 'RFC 7638 SHA-256 thumbprint (base64url) of the public key: what the approvals approve. A secret key under this kid with another thumbprint is never used.';
comment on column public.session_signing_keys.public_jwk is 'The public JWK (never the private part: a "d" member is refused).';
comment on column public.session_signing_keys.status is 'pending (seen in the secret, not approved: never signs), active (signs; at most one), retired (was active; the newest retired key stays published and accepted as the previous key).';
comment on column public.session_signing_keys.first_seen_at is 'When the Worker first found the key in NODE_JWT_KEYS.';
comment on column public.session_signing_keys.approved_at is 'When the key was activated (null while pending).';
comment on column public.session_signing_keys.retired_at is 'When a newer key replaced it.';
comment on column public.session_signing_keys.activation_mode is 'auto (first key on first use, bootstrap only), single_admin (bootstrap), quorum (pending action at its threshold).';
comment on column public.session_signing_keys.activated_by is 'Who activated it: the admin, the quorum''s admins, or the Worker on first use.';
comment on column public.session_signing_keys.action_id is 'The pending action whose quorum activated it (quorum mode).';
comment on column public.session_signing_keys.approvals is 'The approvals that activated it: [{admin_user_id, admin_label, credential_id, approved_at}] (empty unless quorum).';
create unique index if not exists session_signing_keys_one_active on public.session_signing_keys (status) where status = 'active';

alter table public.session_signing_keys enable row level security;
revoke all on table public.session_signing_keys from public, anon, authenticated, service_role;
grant select on table public.session_signing_keys to service_role;

create or replace function private.session_key_row(k public.session_signing_keys) returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object('kid', k.kid, 'thumbprint', k.thumbprint, 'public_jwk', k.public_jwk, 'status', k.status,
    'first_seen_at', k.first_seen_at, 'approved_at', k.approved_at, 'retired_at', k.retired_at,
    'activation_mode', k.activation_mode, 'activated_by', k.activated_by, 'action_id', k.action_id,
    'approvals', k.approvals)
$$;
comment on function private.session_key_row(public.session_signing_keys) is 'A session signing key as the API shows it.';

-- Activates a pending key (the one with this kid AND thumbprint) and retires the active one, audited.
create or replace function private.activate_session_key(
  p_kid text, p_thumbprint text, p_mode text, p_actor text, p_action_id uuid, p_approvals jsonb
) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_key public.session_signing_keys;
  v_prev public.session_signing_keys;
  v_source text := case when p_mode = 'auto' then 'system' else 'admin_api' end;
begin
  perform pg_advisory_xact_lock(hashtext('noderr.session_signing_keys'));
  select * into v_key from public.session_signing_keys k where k.kid = p_kid for update;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'no session signing key with this kid';
  end if;
  if v_key.thumbprint <> p_thumbprint then
    raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'the key under this kid is not the registered one (thumbprint differs)';
  end if;
  if v_key.status <> 'pending' then
    raise exception using errcode = 'P0001', message = 'CONFLICT', detail = format('the key is %s, only a pending key can be activated', v_key.status);
  end if;
  update public.session_signing_keys k set status = 'retired', retired_at = now()
    where k.status = 'active' returning * into v_prev;
  update public.session_signing_keys k set status = 'active', approved_at = now(), activation_mode = p_mode,
      activated_by = p_actor, action_id = p_action_id, approvals = coalesce(p_approvals, '[]'::jsonb)
    where k.kid = p_kid returning * into v_key;
  insert into public.audit_events (source, action, actor, old_status, new_status, details)
    values (v_source, 'session_key.activated', p_actor, 'pending', 'active',
      jsonb_build_object('kid', v_key.kid, 'thumbprint', v_key.thumbprint, 'mode', p_mode,
        'previous_kid', v_prev.kid, 'action_id', p_action_id, 'approvals', v_key.approvals));
  if v_prev.kid is not null then
    insert into public.audit_events (source, action, actor, old_status, new_status, details)
      values (v_source, 'session_key.retired', p_actor, 'active', 'retired',
        jsonb_build_object('kid', v_prev.kid, 'thumbprint', v_prev.thumbprint, 'successor_kid', v_key.kid));
  end if;
  return private.session_key_row(v_key);
end
$$;
comment on function private.activate_session_key(text, text, text, text, uuid, jsonb) is
  'Makes a pending session key active and retires the active one; NOT_FOUND, CONFLICT (thumbprint differs, not pending); audited.';

-- What the Worker calls (cached per isolate, see node-sessions.ts): registers the keys of its secret it
-- has not seen (pending, audited), activates the first one on first use in bootstrap, and returns every key.
create or replace function public.sync_session_keys(p_keys jsonb, p_threshold integer)
returns table (key jsonb)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  e jsonb;
  v_n integer;
  v_first jsonb;
begin
  if jsonb_typeof(p_keys) is distinct from 'array' or jsonb_array_length(p_keys) not between 1 and 10
     or p_threshold is null or p_threshold < 0 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'keys must be an array of 1..10 keys and threshold >= 0';
  end if;
  for e in select * from jsonb_array_elements(p_keys) loop
    if jsonb_typeof(e) is distinct from 'object' or length(coalesce(e->>'kid', '')) not between 1 and 200
       or coalesce(e->>'thumbprint', '') !~ '^[A-Za-z0-9_-]{43}$'
       or jsonb_typeof(e->'public_jwk') is distinct from 'object' or (e->'public_jwk') ? 'd' then
      raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
        detail = 'each key needs kid, thumbprint (RFC 7638, base64url) and public_jwk without a private part';
    end if;
    insert into public.session_signing_keys (kid, thumbprint, public_jwk)
      values (e->>'kid', e->>'thumbprint', e->'public_jwk') on conflict (kid) do nothing;
    get diagnostics v_n = row_count;
    if v_n = 1 then
      insert into public.audit_events (source, action, actor, new_status, details)
        values ('system', 'session_key.registered', 'worker', 'pending',
          jsonb_build_object('kid', e->>'kid', 'thumbprint', e->>'thumbprint', 'public_jwk', e->'public_jwk'));
    end if;
  end loop;
  if (p_threshold = 0 or private.enrolled_admins() < p_threshold)
     and not exists (select 1 from public.session_signing_keys k where k.status <> 'pending') then
    perform pg_advisory_xact_lock(hashtext('noderr.session_signing_keys'));
    v_first := p_keys->0;
    if not exists (select 1 from public.session_signing_keys k where k.status <> 'pending')
       and exists (select 1 from public.session_signing_keys k
                   where k.kid = v_first->>'kid' and k.thumbprint = v_first->>'thumbprint') then
      perform private.activate_session_key(v_first->>'kid', v_first->>'thumbprint', 'auto', 'worker (first use)', null, '[]'::jsonb);
    end if;
  end if;
  return query select private.session_key_row(k) from public.session_signing_keys k
    order by k.first_seen_at desc, k.kid;
end
$$;
comment on function public.sync_session_keys(jsonb, integer) is
  'Registers the NODE_JWT_KEYS keys not seen before as pending (audited), activates the first on first use while the quorum is not in force (p_threshold 0 or fewer admins enrolled), returns all keys newest first. VALIDATION_FAILED.';

-- One admin activates a key: only while the quorum is not in force (the Worker checks first; this is the
-- guard against a race with an enrolment).
create or replace function public.activate_session_key(p_kid text, p_thumbprint text, p_actor text, p_threshold integer)
returns table (key jsonb)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
begin
  if coalesce(p_thumbprint, '') !~ '^[A-Za-z0-9_-]{43}$' or p_threshold is null or p_threshold < 0 or p_actor is null then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'thumbprint must be an RFC 7638 base64url SHA-256, threshold >= 0';
  end if;
  if p_threshold > 0 and private.enrolled_admins() >= p_threshold then
    raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'the approval quorum is in force: activating a session key needs a pending action';
  end if;
  return query select private.activate_session_key(p_kid, p_thumbprint, 'single_admin', p_actor, null, '[]'::jsonb);
end
$$;
comment on function public.activate_session_key(text, text, text, integer) is
  'Activates a pending session key with one admin while the quorum is not in force. VALIDATION_FAILED, NOT_FOUND, CONFLICT (quorum in force, thumbprint differs, not pending).';

do $$
declare
  f regprocedure;
begin
  for f in
    select p.oid::regprocedure from pg_proc p join pg_namespace s on s.oid = p.pronamespace
    where s.nspname = 'public' and p.proname in ('sync_session_keys', 'activate_session_key')
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;
revoke all on function private.session_key_row(public.session_signing_keys) from public, anon, authenticated, service_role;
revoke all on function private.activate_session_key(text, text, text, text, uuid, jsonb) from public, anon, authenticated, service_role;
