-- Install tokens: issue, check-and-challenge (install/config), revoke, list.
-- Errors are raised as SQLSTATE P0001 with the API error code as the message (the storage adapters map
-- them in one place, functions/src/storage/errors.ts) and a human detail.

create or replace function private.require_sha256(p_value text, p_what text) returns void
language plpgsql immutable set search_path = '' as $$
begin
  if not private.is_sha256_hex(p_value) then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = format('%s must be a SHA-256 digest in lowercase hex', p_what);
  end if;
end
$$;
comment on function private.require_sha256(text, text) is 'Raises VALIDATION_FAILED unless the value is 64 lowercase hex digits.';

-- The order matters for the caller: a token that is both used and expired is reported as used,
-- which tells the installer the truth (someone registered with it).
create or replace function private.check_install_token(p_token public.install_tokens) returns void
language plpgsql stable set search_path = '' as $$
begin
  if p_token.id is null then
    raise exception using errcode = 'P0001', message = 'INSTALL_TOKEN_INVALID', detail = 'unknown install token';
  elsif p_token.revoked_at is not null then
    raise exception using errcode = 'P0001', message = 'INSTALL_TOKEN_REVOKED', detail = 'the install token was revoked by an admin';
  elsif p_token.is_used then
    raise exception using errcode = 'P0001', message = 'INSTALL_TOKEN_USED', detail = 'the install token was already used to register a node';
  elsif p_token.expires_at <= now() then
    raise exception using errcode = 'P0001', message = 'INSTALL_TOKEN_EXPIRED', detail = 'the install token has expired';
  end if;
end
$$;
comment on function private.check_install_token(public.install_tokens) is
  'Raises INSTALL_TOKEN_INVALID / _REVOKED / _USED / _EXPIRED unless the token can still register a node.';

create or replace function public.issue_install_token(
  p_token_hash text, p_application_id uuid, p_tier text, p_os text, p_expires_in_days integer, p_actor text
) returns table (
  id uuid, application_id uuid, tier text, os text, status text, used_at timestamptz, used_by_node text,
  revoked_at timestamptz, created_by text, created_at timestamptz, expires_at timestamptz
)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_id uuid;
begin
  perform private.require_sha256(p_token_hash, 'token hash');
  if p_application_id is null then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'applicationId is required';
  end if;
  if p_tier is null or p_tier not in ('ALL', 'ORACLE', 'GUARDIAN') then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'tier must be ALL, ORACLE or GUARDIAN';
  end if;
  if p_os is null or p_os not in ('linux', 'windows') then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'os must be linux or windows';
  end if;
  if p_expires_in_days is null or p_expires_in_days not between 1 and 7 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'expiresInDays must be between 1 and 7';
  end if;
  perform private.set_audit_context('admin_api', p_actor, null);
  begin
    insert into public.install_tokens (token_hash, application_id, tier, os, created_by, expires_at)
    values (p_token_hash, p_application_id, p_tier, p_os, p_actor, now() + make_interval(days => p_expires_in_days))
    returning install_tokens.id into v_id;
  exception when unique_violation then
    raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'a token with this hash exists already';
  end;
  return query
    select t.id, t.application_id, t.tier, t.os, private.install_token_status(t), t.used_at, t.used_by_node,
           t.revoked_at, t.created_by, t.created_at, t.expires_at
    from public.install_tokens t where t.id = v_id;
end
$$;
comment on function public.issue_install_token(text, uuid, text, text, integer, text) is
  'Admin: stores a new install token (by its SHA-256) valid for 1–7 days; audited as install_token.issued.';

create or replace function public.begin_install(p_token_hash text, p_nonce_hash text)
returns table (
  install_token_id uuid, application_id uuid, tier text, os text, token_expires_at timestamptz,
  challenge_expires_at timestamptz, require_ek_certificate boolean, pcr_selection jsonb, policy_version integer
)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_token public.install_tokens;
  v_expires timestamptz := now() + interval '10 minutes';
begin
  perform private.require_sha256(p_token_hash, 'token hash');
  perform private.require_sha256(p_nonce_hash, 'nonce hash');
  select * into v_token from public.install_tokens t where t.token_hash = p_token_hash;
  perform private.check_install_token(v_token);
  -- Expired nonces of this token are no use to anyone; drop them as new ones are issued.
  delete from public.attestation_challenges c
    where c.install_token_id = v_token.id and c.expires_at < now() - interval '1 day';
  begin
    insert into public.attestation_challenges (nonce_hash, purpose, install_token_id, expires_at)
    values (p_nonce_hash, 'install', v_token.id, v_expires);
  exception when unique_violation then
    raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'nonce reused; generate a fresh one';
  end;
  return query
    select v_token.id, v_token.application_id, v_token.tier, v_token.os, v_token.expires_at, v_expires,
           p.require_ek_certificate, p.pcr_selection, p.version
    from public.attestation_policies p where p.tier = v_token.tier;
end
$$;
comment on function public.begin_install(text, text) is
  'install/config: checks the token (not consumed) and binds a new 10-minute challenge to it; returns the tier policy essentials.';

create or replace function public.revoke_install_token(p_token_id uuid, p_actor text)
returns table (
  id uuid, application_id uuid, tier text, os text, status text, used_at timestamptz, used_by_node text,
  revoked_at timestamptz, created_by text, created_at timestamptz, expires_at timestamptz
)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_token public.install_tokens;
begin
  select * into v_token from public.install_tokens t where t.id = p_token_id for update;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'no install token with this id';
  end if;
  if v_token.is_used then
    raise exception using errcode = 'P0001', message = 'CONFLICT',
      detail = 'a used install token cannot be revoked; revoke the node instead';
  end if;
  if v_token.revoked_at is null then
    perform private.set_audit_context('admin_api', p_actor, null);
    update public.install_tokens t set revoked_at = now() where t.id = p_token_id;
  end if;
  return query
    select t.id, t.application_id, t.tier, t.os, private.install_token_status(t), t.used_at, t.used_by_node,
           t.revoked_at, t.created_by, t.created_at, t.expires_at
    from public.install_tokens t where t.id = p_token_id;
end
$$;
comment on function public.revoke_install_token(uuid, text) is
  'Admin: revokes an unused token (idempotent; CONFLICT if used, NOT_FOUND if unknown); audited.';

create or replace function public.list_install_tokens(p_status text default null, p_limit integer default 100, p_offset integer default 0)
returns table (
  id uuid, application_id uuid, tier text, os text, status text, used_at timestamptz, used_by_node text,
  revoked_at timestamptz, created_by text, created_at timestamptz, expires_at timestamptz
)
language plpgsql stable security definer set search_path = '' as $$
#variable_conflict use_column
begin
  if p_status is not null and p_status not in ('active', 'used', 'revoked', 'expired') then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'status must be active, used, revoked or expired';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 or p_offset is null or p_offset < 0 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'limit must be 1..1000 and offset >= 0';
  end if;
  return query
    select t.id, t.application_id, t.tier, t.os, private.install_token_status(t), t.used_at, t.used_by_node,
           t.revoked_at, t.created_by, t.created_at, t.expires_at
    from public.install_tokens t
    where p_status is null or private.install_token_status(t) = p_status
    order by t.created_at desc, t.id
    limit p_limit offset p_offset;
end
$$;
comment on function public.list_install_tokens(text, integer, integer) is
  'Admin: tokens newest first, optionally by derived status (active, used, revoked, expired). Never returns token values.';
