-- Nodes for admins: read, list, change status (revoked is final, enforced by a trigger as well).

create or replace function public.get_node(p_node_id text)
returns table (
  node_id text, public_key text, tier text, os text, status text, status_reason text, install_token_id uuid,
  ek_fingerprint text, ak_public text, ak_name text, pcr_baseline jsonb, attestation_data jsonb,
  policy_version integer, last_seen timestamptz, last_metrics jsonb, last_attested_at timestamptz,
  attestation_due_at timestamptz, last_clock bigint, last_reset_count bigint, last_restart_count bigint,
  last_clock_safe boolean, created_at timestamptz, updated_at timestamptz
)
language plpgsql stable security definer set search_path = '' as $$
#variable_conflict use_column
begin
  return query
    select n.node_id, n.public_key, n.tier, n.os, n.status, n.status_reason, n.install_token_id, n.ek_fingerprint,
           n.ak_public, n.ak_name, n.pcr_baseline, n.attestation_data, n.policy_version, n.last_seen, n.last_metrics,
           n.last_attested_at, n.attestation_due_at, n.last_clock, n.last_reset_count, n.last_restart_count,
           n.last_clock_safe, n.created_at, n.updated_at
    from public.node_identities n where n.node_id = p_node_id;
  if not found then
    raise exception using errcode = 'P0001', message = 'NODE_NOT_FOUND', detail = 'no node with this id';
  end if;
end
$$;
comment on function public.get_node(text) is
  'A node with everything re-attestation needs (AK, PCR baseline, last clock info) whatever its status; NODE_NOT_FOUND if unknown.';

create or replace function public.list_nodes(p_status text default null, p_limit integer default 100, p_offset integer default 0)
returns table (
  node_id text, tier text, os text, status text, status_reason text, install_token_id uuid, ek_fingerprint text,
  last_seen timestamptz, last_attested_at timestamptz, attestation_due_at timestamptz, created_at timestamptz,
  updated_at timestamptz
)
language plpgsql stable security definer set search_path = '' as $$
#variable_conflict use_column
begin
  if p_status is not null and p_status not in ('active', 'suspended', 'revoked') then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'status must be active, suspended or revoked';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 or p_offset is null or p_offset < 0 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'limit must be 1..1000 and offset >= 0';
  end if;
  return query
    select n.node_id, n.tier, n.os, n.status, n.status_reason, n.install_token_id, n.ek_fingerprint, n.last_seen,
           n.last_attested_at, n.attestation_due_at, n.created_at, n.updated_at
    from public.node_identities n
    where p_status is null or n.status = p_status
    order by n.created_at desc, n.node_id
    limit p_limit offset p_offset;
end
$$;
comment on function public.list_nodes(text, integer, integer) is 'Admin: nodes newest first, optionally filtered by status.';

create or replace function public.set_node_status(p_node_id text, p_status text, p_reason text, p_actor text)
returns table (
  node_id text, tier text, os text, status text, status_reason text, install_token_id uuid, ek_fingerprint text,
  last_seen timestamptz, last_attested_at timestamptz, attestation_due_at timestamptz, created_at timestamptz,
  updated_at timestamptz
)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_node public.node_identities;
begin
  if p_status is null or p_status not in ('active', 'suspended', 'revoked') then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'status must be active, suspended or revoked';
  end if;
  select * into v_node from public.node_identities n where n.node_id = p_node_id for update;
  if not found then
    raise exception using errcode = 'P0001', message = 'NODE_NOT_FOUND', detail = 'no node with this id';
  end if;
  if v_node.status = 'revoked' and p_status <> 'revoked' then
    raise exception using errcode = 'P0001', message = 'CONFLICT',
      detail = 'the node is revoked; revocation is final (register again with a new install token)';
  end if;
  if v_node.status <> p_status then
    perform private.set_audit_context('admin_api', p_actor, p_reason);
    update public.node_identities n
      set status = p_status, status_reason = p_reason,
          -- A reactivated node proves itself again first: re-attestation due now, with a fresh grace period.
          attestation_due_at = case when p_status = 'active' then now() else n.attestation_due_at end
      where n.id = v_node.id;
  end if;
  return query
    select n.node_id, n.tier, n.os, n.status, n.status_reason, n.install_token_id, n.ek_fingerprint, n.last_seen,
           n.last_attested_at, n.attestation_due_at, n.created_at, n.updated_at
    from public.node_identities n where n.id = v_node.id;
end
$$;
comment on function public.set_node_status(text, text, text, text) is
  'Admin: active / suspended / revoked with a reason; audited. Revoked is final (CONFLICT); same status is a no-op.';
