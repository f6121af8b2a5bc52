-- Node sessions: a 5-minute challenge bound to the node, then verify = API key + challenge in one call.
-- The node-key signature over the challenge is checked by the Worker (with the public key returned here).

create or replace function public.issue_node_challenge(p_node_id text, p_nonce_hash text)
returns table (node_id text, expires_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_node public.node_identities;
  v_expires timestamptz := now() + interval '5 minutes';
begin
  perform private.require_sha256(p_nonce_hash, 'nonce hash');
  select * into v_node from public.node_identities n where n.node_id = p_node_id;
  perform private.check_node_status(v_node);
  -- Keep the table small: a node's stale session nonces go when it asks for a new one.
  delete from public.attestation_challenges c
    where c.node_id = p_node_id and c.purpose = 'session' and c.expires_at < now() - interval '1 hour';
  begin
    insert into public.attestation_challenges (nonce_hash, purpose, node_id, expires_at)
    values (p_nonce_hash, 'session', p_node_id, v_expires);
  exception when unique_violation then
    raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'nonce reused; generate a fresh one';
  end;
  return query select p_node_id, v_expires;
end
$$;
comment on function public.issue_node_challenge(text, text) is
  'auth/challenge: binds a new single-use 5-minute nonce to an active node (NODE_NOT_FOUND / NODE_SUSPENDED / NODE_REVOKED otherwise).';

create or replace function public.begin_node_session(p_node_id text, p_api_key_hash text, p_nonce_hash text)
returns table (
  node_id text, public_key text, tier text, status text, session_ttl_seconds integer, credential_expires_at timestamptz
)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_node public.node_identities;
  v_cred public.node_credentials;
  v_ttl integer;
begin
  perform private.require_sha256(p_api_key_hash, 'API key hash');
  perform private.require_sha256(p_nonce_hash, 'nonce hash');
  select * into v_node from public.node_identities n where n.node_id = p_node_id;
  -- An unknown node and a wrong key answer alike, so the endpoint does not confirm which node ids exist.
  -- Comparing hashes needs no constant-time care: the caller controls the key, not its digest.
  select * into v_cred from public.node_credentials k
    where k.node_id = p_node_id and k.api_key_hash = p_api_key_hash and k.revoked_at is null and k.expires_at > now();
  if v_node.id is null or v_cred.id is null then
    -- A revoked node's key is revoked with it; say so rather than "wrong key".
    if v_node.id is not null and v_node.status = 'revoked'
       and exists (select 1 from public.node_credentials k where k.node_id = p_node_id and k.api_key_hash = p_api_key_hash) then
      perform private.check_node_status(v_node);
    end if;
    raise exception using errcode = 'P0001', message = 'CREDENTIALS_INVALID', detail = 'wrong node id or API key';
  end if;
  perform private.check_node_status(v_node);
  perform private.consume_challenge(p_nonce_hash, 'session', null, p_node_id);
  select p.session_ttl_seconds into v_ttl from public.attestation_policies p where p.tier = v_node.tier;
  return query select v_node.node_id, v_node.public_key, v_node.tier, v_node.status, v_ttl, v_cred.expires_at;
end
$$;
comment on function public.begin_node_session(text, text, text) is
  'auth/verify in one round trip: API key (CREDENTIALS_INVALID), node status (NODE_SUSPENDED / NODE_REVOKED), then consumes the session challenge (CHALLENGE_INVALID / CHALLENGE_EXPIRED). Returns the node key for the signature check.';
