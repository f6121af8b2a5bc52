-- Registration: consume the install nonce, keep the verified registration as a pending activation, and
-- complete it — token consumed, node and credentials created — in one transaction.

-- Single use by construction: the row is claimed by one UPDATE … WHERE used_at IS NULL, so of two
-- concurrent consumers the second re-reads the claimed row after the first commits and finds nothing.
create or replace function private.consume_challenge(
  p_nonce_hash text, p_purpose text, p_install_token_id uuid, p_node_id text
) returns public.attestation_challenges
language plpgsql volatile set search_path = '' as $$
declare
  v public.attestation_challenges;
begin
  update public.attestation_challenges c set used_at = now()
    where c.nonce_hash = p_nonce_hash and c.purpose = p_purpose and c.used_at is null and c.expires_at > now()
      and c.install_token_id is not distinct from p_install_token_id and c.node_id is not distinct from p_node_id
    returning c.* into v;
  if found then
    return v;
  end if;
  select c.* into v from public.attestation_challenges c where c.nonce_hash = p_nonce_hash;
  if found and v.used_at is null and v.purpose = p_purpose and v.expires_at <= now()
     and v.install_token_id is not distinct from p_install_token_id and v.node_id is not distinct from p_node_id then
    raise exception using errcode = 'P0001', message = 'CHALLENGE_EXPIRED', detail = 'the challenge has expired; request a new one';
  end if;
  raise exception using errcode = 'P0001', message = 'CHALLENGE_INVALID',
    detail = 'unknown challenge, already used, or bound to another token or node';
end
$$;
comment on function private.consume_challenge(text, text, uuid, text) is
  'Marks a challenge used exactly once; raises CHALLENGE_EXPIRED or CHALLENGE_INVALID otherwise.';

create or replace function private.check_node_status(p_node public.node_identities) returns void
language plpgsql stable set search_path = '' as $$
begin
  if p_node.id is null then
    raise exception using errcode = 'P0001', message = 'NODE_NOT_FOUND', detail = 'no node with this id';
  elsif p_node.status = 'revoked' then
    raise exception using errcode = 'P0001', message = 'NODE_REVOKED', detail = 'the node was revoked';
  elsif p_node.status = 'suspended' then
    raise exception using errcode = 'P0001', message = 'NODE_SUSPENDED',
      detail = coalesce('the node is suspended: ' || p_node.status_reason, 'the node is suspended');
  end if;
end
$$;
comment on function private.check_node_status(public.node_identities) is
  'Raises NODE_NOT_FOUND, NODE_REVOKED or NODE_SUSPENDED unless the node is active.';

create or replace function public.consume_challenge(
  p_nonce_hash text, p_purpose text, p_install_token_hash text default null, p_node_id text default null
) returns table (challenge_id uuid, purpose text, install_token_id uuid, node_id text, tier text, expires_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_token public.install_tokens;
  v_node public.node_identities;
  v public.attestation_challenges;
begin
  perform private.require_sha256(p_nonce_hash, 'nonce hash');
  if p_purpose = 'install' then
    perform private.require_sha256(p_install_token_hash, 'token hash');
    select * into v_token from public.install_tokens t where t.token_hash = p_install_token_hash;
    perform private.check_install_token(v_token);
    v := private.consume_challenge(p_nonce_hash, 'install', v_token.id, null);
  elsif p_purpose in ('session', 'reattestation') then
    select * into v_node from public.node_identities n where n.node_id = p_node_id;
    perform private.check_node_status(v_node);
    v := private.consume_challenge(p_nonce_hash, p_purpose, null, p_node_id);
  else
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'purpose must be install, session or reattestation';
  end if;
  -- The tier names the policy the caller verifies the answer against.
  return query select v.id, v.purpose, v.install_token_id, v.node_id, coalesce(v_token.tier, v_node.tier), v.expires_at;
end
$$;
comment on function public.consume_challenge(text, text, text, text) is
  'Consumes a nonce once: install nonces bound to the given token (which must still be usable), session/reattestation nonces bound to the given active node. Returns the tier of that token or node.';

-- Every API function returns at least two columns: PostgREST serialises a one-column RETURNS TABLE
-- as bare values rather than objects, and the adapters read rows by column name.
create or replace function public.check_ek_available(p_ek_fingerprint text)
returns table (ek_fingerprint text, available boolean)
language plpgsql stable security definer set search_path = '' as $$
begin
  perform private.require_sha256(p_ek_fingerprint, 'EK fingerprint');
  if exists (select 1 from public.node_identities n where n.ek_fingerprint = p_ek_fingerprint and n.status <> 'revoked') then
    raise exception using errcode = 'P0001', message = 'EK_ALREADY_REGISTERED',
      detail = 'this TPM already belongs to a node that is not revoked';
  end if;
  return query select p_ek_fingerprint, true;
end
$$;
comment on function public.check_ek_available(text) is
  'Raises EK_ALREADY_REGISTERED when a non-revoked node has this EK, so registration fails before MakeCredential.';

create or replace function public.store_pending_activation(
  p_install_token_hash text, p_node_id text, p_public_key text, p_ek_fingerprint text, p_ak_public text,
  p_ak_name text, p_pcr_baseline jsonb, p_attestation_data jsonb, p_policy_version integer, p_clock bigint,
  p_reset_count bigint, p_restart_count bigint, p_clock_safe boolean, p_secret_hash text
) returns table (activation_id uuid, expires_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_token public.install_tokens;
  v_id uuid;
  v_expires timestamptz;
  v_constraint text;
begin
  perform private.require_sha256(p_install_token_hash, 'token hash');
  perform private.require_sha256(p_secret_hash, 'secret hash');
  select * into v_token from public.install_tokens t where t.token_hash = p_install_token_hash;
  perform private.check_install_token(v_token);
  perform public.check_ek_available(p_ek_fingerprint);
  if exists (select 1 from public.node_identities n where n.node_id = p_node_id) then
    raise exception using errcode = 'P0001', message = 'CONFLICT',
      detail = 'a node with this node key exists already; create a new node key';
  end if;
  begin
    insert into public.pending_activations (install_token_id, node_id, public_key, ek_fingerprint, ak_public,
      ak_name, pcr_baseline, attestation_data, policy_version, clock, reset_count, restart_count, clock_safe, secret_hash)
    values (v_token.id, p_node_id, p_public_key, p_ek_fingerprint, p_ak_public, p_ak_name, p_pcr_baseline,
      coalesce(p_attestation_data, '{}'::jsonb), p_policy_version, p_clock, p_reset_count, p_restart_count,
      p_clock_safe, p_secret_hash)
    returning pending_activations.id, pending_activations.expires_at into v_id, v_expires;
  exception when check_violation or not_null_violation then
    get stacked diagnostics v_constraint = constraint_name;
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = format('invalid registration data (%s)', coalesce(v_constraint, sqlerrm));
  end;
  return query select v_id, v_expires;
end
$$;
comment on function public.store_pending_activation(text, text, text, text, text, text, jsonb, jsonb, integer, bigint, bigint, bigint, boolean, text) is
  'After a verified registration: keeps everything needed to create the node, valid 10 minutes, until the node proves credential activation. Does not consume the token.';

create or replace function public.complete_registration(p_activation_id uuid, p_secret_hash text, p_api_key_hash text)
returns table (
  error_code text, attempts_remaining integer, node_id text, tier text, os text, status text, public_key text,
  created_at timestamptz, credential_expires_at timestamptz, session_ttl_seconds integer
)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_act public.pending_activations;
  v_token public.install_tokens;
  v_node public.node_identities;
  v_cred public.node_credentials;
  v_policy public.attestation_policies;
  v_constraint text;
begin
  perform private.require_sha256(p_secret_hash, 'secret hash');
  perform private.require_sha256(p_api_key_hash, 'API key hash');
  select * into v_act from public.pending_activations a where a.id = p_activation_id for update;
  if not found or v_act.state <> 'pending' or v_act.expires_at <= now() then
    raise exception using errcode = 'P0001', message = 'ACTIVATION_NOT_FOUND',
      detail = 'unknown, completed, failed or expired activation; register again';
  end if;
  -- A wrong secret must be counted even though the call fails, so it is reported in the result row
  -- (error_code) instead of raised: raising would roll the counter back. Three strikes end it.
  if v_act.secret_hash <> p_secret_hash then
    update public.pending_activations a
      set attempts = a.attempts + 1, state = case when a.attempts + 1 >= 3 then 'failed' else a.state end
      where a.id = v_act.id
      returning a.* into v_act;
    return query select 'ACTIVATION_FAILED'::text, 3 - v_act.attempts, null::text, null::text, null::text,
      null::text, null::text, null::timestamptz, null::timestamptz, null::integer;
    return;
  end if;

  -- The token row lock serialises every activation of the same token: the first commits, the others
  -- then see it used.
  select * into v_token from public.install_tokens t where t.id = v_act.install_token_id for update;
  perform private.check_install_token(v_token);
  perform public.check_ek_available(v_act.ek_fingerprint);
  select * into v_policy from public.attestation_policies p where p.tier = v_token.tier;

  perform private.set_audit_context('node', v_act.node_id, 'registered');
  begin
    insert into public.node_identities (node_id, public_key, attestation_data, tier, os, install_token_id,
      ek_fingerprint, ak_public, ak_name, pcr_baseline, policy_version, last_attested_at, attestation_due_at,
      last_clock, last_reset_count, last_restart_count, last_clock_safe)
    values (v_act.node_id, v_act.public_key, v_act.attestation_data, v_token.tier, v_token.os, v_token.id,
      v_act.ek_fingerprint, v_act.ak_public, v_act.ak_name, v_act.pcr_baseline, v_act.policy_version, now(),
      now() + make_interval(secs => v_policy.reattestation_interval_seconds),
      v_act.clock, v_act.reset_count, v_act.restart_count, v_act.clock_safe)
    returning * into v_node;
    insert into public.node_credentials (node_id, api_key_hash) values (v_node.node_id, p_api_key_hash)
      returning * into v_cred;
  exception when unique_violation then
    -- The partial unique index is the final guard when two registrations of one TPM race past the check.
    get stacked diagnostics v_constraint = constraint_name;
    if v_constraint = 'node_identities_ek_live_idx' then
      raise exception using errcode = 'P0001', message = 'EK_ALREADY_REGISTERED',
        detail = 'this TPM already belongs to a node that is not revoked';
    end if;
    raise exception using errcode = 'P0001', message = 'CONFLICT',
      detail = format('registration conflicts with an existing node or key (%s)', v_constraint);
  end;
  update public.install_tokens t set is_used = true, used_at = now(), used_by_node = v_node.node_id
    where t.id = v_token.id;
  update public.pending_activations a set state = 'completed', completed_at = now() where a.id = v_act.id;
  insert into public.attestations (node_id, install_token_id, kind, result, pcr_values, clock, reset_count,
    restart_count, clock_safe, policy_version)
  values (v_node.node_id, v_token.id, 'registration', 'passed', v_act.pcr_baseline, v_act.clock,
    v_act.reset_count, v_act.restart_count, v_act.clock_safe, v_act.policy_version);
  return query select null::text, null::integer, v_node.node_id, v_node.tier, v_node.os, v_node.status,
    v_node.public_key, v_node.created_at, v_cred.expires_at, v_policy.session_ttl_seconds;
end
$$;
comment on function public.complete_registration(uuid, text, text) is
  'activate: checks the secret hash (a wrong one counts an attempt and returns error_code ACTIVATION_FAILED), then in one transaction consumes the token, creates node and credentials, closes the activation and records history. Any failure leaves nothing behind.';

create or replace function public.record_registration_failure(p_install_token_hash text, p_reason text, p_details jsonb default '{}'::jsonb)
returns table (recorded boolean, attestation_id bigint)
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_token_id uuid;
  v_id bigint;
begin
  if p_reason is null or p_reason !~ '^[A-Z][A-Z0-9_]*$' then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'reason must be an upper-case reason code';
  end if;
  select t.id into v_token_id from public.install_tokens t where t.token_hash = p_install_token_hash;
  -- A registration with an unknown token has nothing to attach history to (and must not create rows).
  if v_token_id is null then
    return query select false, null::bigint;
    return;
  end if;
  insert into public.attestations (install_token_id, kind, result, reason, details)
  values (v_token_id, 'registration', 'failed', p_reason, coalesce(p_details, '{}'::jsonb))
  returning id into v_id;
  return query select true, v_id;
end
$$;
comment on function public.record_registration_failure(text, text, jsonb) is
  'Records a rejected registration attempt (verifier reason) against its install token, for operators.';
