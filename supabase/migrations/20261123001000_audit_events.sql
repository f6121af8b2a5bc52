-- Who did what to which node or token, when, and from where. Status changes are recorded by triggers,
-- so a direct edit in the Supabase dashboard is audited exactly like a change through the API.
create table if not exists public.audit_events (
  id bigint generated always as identity primary key,
  occurred_at timestamptz not null default now(),
  source text not null check (source in ('admin_api', 'node', 'system', 'dashboard')),
  action text not null check (action ~ '^[a-z_]+\.[a-z_]+$'),
  actor text,
  db_role text not null default current_user,
  auth_uid uuid,
  node_id text,
  install_token_id uuid,
  old_status text,
  new_status text,
  reason text,
  details jsonb not null default '{}'::jsonb check (jsonb_typeof(details) = 'object')
);

comment on table public.audit_events is
  'Append-only audit trail: node and token status changes (by any path, via triggers) and every admin change. No foreign keys, so the trail outlives what it describes.';
comment on column public.audit_events.id is 'Row id (increasing).';
comment on column public.audit_events.occurred_at is 'When it happened (transaction time).';
comment on column public.audit_events.source is 'admin_api (dApp admin through the Worker), node (a node''s own request), system (automatic, e.g. a missed re-attestation), dashboard (a direct SQL edit: Supabase dashboard, SQL editor, psql).';
comment on column public.audit_events.action is 'What happened, e.g. node.status_changed, node.registered, install_token.issued, install_token.used, install_token.revoked, policy.updated, ek_anchor.added.';
comment on column public.audit_events.actor is 'Admin user id or email, or the node id, as reported by the API; null for dashboard edits (see db_role and auth_uid).';
comment on column public.audit_events.db_role is 'The database role that made the change (current_user), e.g. postgres for the dashboard.';
comment on column public.audit_events.auth_uid is 'The Supabase Auth user (auth.uid()) of the request, when there is one.';
comment on column public.audit_events.node_id is 'The node concerned, if any.';
comment on column public.audit_events.install_token_id is 'The install token concerned, if any.';
comment on column public.audit_events.old_status is 'Status before the change (nodes: active/suspended/revoked; tokens: active/used/revoked/expired).';
comment on column public.audit_events.new_status is 'Status after the change.';
comment on column public.audit_events.reason is 'Why (admin reason, pcr_policy_violation, reattestation_missed, …).';
comment on column public.audit_events.details is 'Further facts (never secrets).';

create index if not exists audit_events_node_idx on public.audit_events (node_id, occurred_at desc) where node_id is not null;
create index if not exists audit_events_token_idx on public.audit_events (install_token_id, occurred_at desc) where install_token_id is not null;
create index if not exists audit_events_occurred_idx on public.audit_events (occurred_at desc);

alter table public.audit_events enable row level security;
-- Append-only: the API roles get nothing, the service role may read; rows come from triggers and functions.
revoke all on table public.audit_events from public, anon, authenticated, service_role;
grant select on table public.audit_events to service_role;

-- Writes one audit row with the context set by the calling SQL function, or — when there is none —
-- as a dashboard edit carrying the editing role and auth.uid(). Security definer, so that whoever may
-- edit a status can always be audited; the caller passes its current_user because inside a security
-- definer function current_user is the owner.
create or replace function private.write_audit(
  p_action text, p_node_id text, p_install_token_id uuid, p_old_status text, p_new_status text,
  p_details jsonb, p_db_role text
) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_source text := nullif(current_setting('noderr.audit_source', true), '');
  v_uid uuid;
begin
  begin
    v_uid := auth.uid();
  exception when others then
    v_uid := null;  -- a malformed request.jwt.claims must not block a revocation
  end;
  insert into public.audit_events
    (source, action, actor, db_role, auth_uid, node_id, install_token_id, old_status, new_status, reason, details)
  values (
    coalesce(v_source, 'dashboard'), p_action,
    nullif(current_setting('noderr.audit_actor', true), ''),
    p_db_role, v_uid, p_node_id, p_install_token_id, p_old_status, p_new_status,
    nullif(current_setting('noderr.audit_reason', true), ''), coalesce(p_details, '{}'::jsonb));
end
$$;
comment on function private.write_audit(text, text, uuid, text, text, jsonb, text) is
  'Appends an audit_events row using the audit context of the transaction (private.set_audit_context).';

-- node_identities: revoked is final, updated_at is kept, and status changes are audited.
create or replace function private.node_identities_before_update() returns trigger
language plpgsql set search_path = '' as $$
begin
  if old.status = 'revoked' and new.status <> 'revoked' then
    raise exception using errcode = 'P0001', message = 'CONFLICT',
      detail = format('node %s is revoked; revocation is final (register again with a new install token)', old.node_id);
  end if;
  new.updated_at := now();
  return new;
end
$$;
comment on function private.node_identities_before_update() is
  'Rejects leaving status revoked by any path and keeps updated_at.';

create or replace function private.revoke_node_credentials(p_node_id text) returns void
language sql volatile security definer set search_path = '' as $$
  update public.node_credentials set revoked_at = now() where node_id = p_node_id and revoked_at is null;
$$;
comment on function private.revoke_node_credentials(text) is 'Revokes the live API key of a node.';

-- Invoker's rights on purpose: current_user here is the role that made the change.
create or replace function private.node_identities_audit() returns trigger
language plpgsql set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    perform private.write_audit('node.registered', new.node_id, new.install_token_id, null, new.status,
      jsonb_build_object('tier', new.tier, 'ek_fingerprint', new.ek_fingerprint), current_user::text);
  elsif new.status is distinct from old.status then
    perform private.write_audit('node.status_changed', new.node_id, null, old.status, new.status,
      '{}'::jsonb, current_user::text);
    -- A revoked node's API key dies with it, whichever path revoked it.
    if new.status = 'revoked' then
      perform private.revoke_node_credentials(new.node_id);
    end if;
  end if;
  return null;
end
$$;
comment on function private.node_identities_audit() is
  'Audits node creation and every status change (API, node, dashboard) and revokes the credentials of a revoked node.';

drop trigger if exists node_identities_before_update on public.node_identities;
create trigger node_identities_before_update before update on public.node_identities
  for each row execute function private.node_identities_before_update();
drop trigger if exists node_identities_audit on public.node_identities;
create trigger node_identities_audit after insert or update of status on public.node_identities
  for each row execute function private.node_identities_audit();

-- install_tokens: derived status for the audit trail.
create or replace function private.install_token_status(p_token public.install_tokens) returns text
language sql stable set search_path = '' as $$
  select case when p_token.revoked_at is not null then 'revoked'
              when p_token.is_used then 'used'
              when p_token.expires_at <= now() then 'expired'
              else 'active' end
$$;
comment on function private.install_token_status(public.install_tokens) is
  'Derived status of an install token: revoked, used, expired or active.';

create or replace function private.install_tokens_before_update() returns trigger
language plpgsql set search_path = '' as $$
begin
  -- End states are final by any path: a revoked token stays revoked, a used token stays used.
  if old.revoked_at is not null and new.revoked_at is distinct from old.revoked_at then
    raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'install token revocation is final';
  end if;
  if old.is_used and (not new.is_used or new.used_at is distinct from old.used_at
                      or new.used_by_node is distinct from old.used_by_node) then
    raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'a used install token stays used';
  end if;
  return new;
end
$$;
comment on function private.install_tokens_before_update() is 'Keeps the end states of install tokens (used, revoked) final.';

-- Invoker's rights on purpose: current_user here is the role that made the change.
create or replace function private.install_tokens_audit() returns trigger
language plpgsql set search_path = '' as $$
declare
  v_old text;
  v_new text := private.install_token_status(new);
begin
  if tg_op = 'INSERT' then
    perform private.write_audit('install_token.issued', null, new.id, null, v_new,
      jsonb_build_object('tier', new.tier, 'os', new.os, 'application_id', new.application_id, 'expires_at', new.expires_at),
      current_user::text);
    return null;
  end if;
  v_old := private.install_token_status(old);
  if v_old is distinct from v_new then
    perform private.write_audit(
      case v_new when 'used' then 'install_token.used' when 'revoked' then 'install_token.revoked'
                 else 'install_token.status_changed' end,
      new.used_by_node, new.id, v_old, v_new, '{}'::jsonb, current_user::text);
  end if;
  return null;
end
$$;
comment on function private.install_tokens_audit() is 'Audits token issue and every derived status change (used, revoked, …) by any path.';

drop trigger if exists install_tokens_before_update on public.install_tokens;
create trigger install_tokens_before_update before update on public.install_tokens
  for each row execute function private.install_tokens_before_update();
drop trigger if exists install_tokens_audit on public.install_tokens;
create trigger install_tokens_audit after insert or update on public.install_tokens
  for each row execute function private.install_tokens_audit();
