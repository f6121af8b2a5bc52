-- Heartbeats and re-attestation.
--
-- Grace policy: a re-attestation falls due at attestation_due_at (last success + the tier's
-- reattestation_interval_seconds). From then on every heartbeat asks for a fresh quote over a new nonce,
-- all with the same deadline = attestation_due_at + reattestation_grace_seconds. The first heartbeat
-- after the deadline without a passed re-attestation suspends the node (status_reason
-- reattestation_missed, audited as source system) and is refused with NODE_SUSPENDED. An admin who
-- reactivates the node makes a re-attestation due at once, with a fresh grace period.

-- Suspends an overdue node; true when it did. Shared by every path that looks at the deadline.
create or replace function private.enforce_reattestation_deadline(p_node public.node_identities, p_grace_seconds integer)
returns boolean
language plpgsql volatile set search_path = '' as $$
begin
  if p_node.status <> 'active' or now() <= p_node.attestation_due_at + make_interval(secs => p_grace_seconds) then
    return false;
  end if;
  perform private.set_audit_context('system', null, 'reattestation_missed');
  update public.node_identities n set status = 'suspended', status_reason = 'reattestation_missed'
    where n.id = p_node.id and n.status = 'active';
  return found;
end
$$;
comment on function private.enforce_reattestation_deadline(public.node_identities, integer) is
  'Suspends an active node whose re-attestation deadline (due + grace) has passed; returns whether it did.';

create or replace function private.issue_reattestation_nonce(p_node_id text, p_nonce_hash text, p_deadline timestamptz)
returns void
language plpgsql volatile set search_path = '' as $$
begin
  -- Only the newest nonce is answerable: the Worker cannot resend an old one (it keeps no nonces).
  delete from public.attestation_challenges c
    where c.node_id = p_node_id and c.purpose = 'reattestation' and c.used_at is null;
  begin
    insert into public.attestation_challenges (nonce_hash, purpose, node_id, expires_at)
    values (p_nonce_hash, 'reattestation', p_node_id, p_deadline);
  exception when unique_violation then
    raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'nonce reused; generate a fresh one';
  end;
end
$$;
comment on function private.issue_reattestation_nonce(text, text, timestamptz) is
  'Replaces the node''s outstanding re-attestation nonce with a new one valid until the deadline.';

create or replace function public.record_heartbeat(
  p_node_id text, p_metrics jsonb, p_min_write_interval_seconds integer, p_reattestation_nonce_hash text default null
) returns table (
  error_code text, status text, last_seen timestamptz, last_seen_written boolean, reattestation_required boolean,
  reattestation_deadline timestamptz, reattestation_nonce_issued boolean
)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_node public.node_identities;
  v_grace integer;
  v_written boolean := false;
  v_last_seen timestamptz;
  v_due boolean;
  v_deadline timestamptz;
  v_issued boolean := false;
begin
  if p_min_write_interval_seconds is null or p_min_write_interval_seconds < 0 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'write interval must be >= 0 seconds';
  end if;
  if p_metrics is not null and jsonb_typeof(p_metrics) <> 'object' then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'metrics must be a JSON object';
  end if;
  if p_reattestation_nonce_hash is not null then
    perform private.require_sha256(p_reattestation_nonce_hash, 'nonce hash');
  end if;
  select * into v_node from public.node_identities n where n.node_id = p_node_id;
  perform private.check_node_status(v_node);
  select p.reattestation_grace_seconds into v_grace from public.attestation_policies p where p.tier = v_node.tier;

  -- Missing the deadline suspends the node. That write must persist, so it is reported, not raised.
  if private.enforce_reattestation_deadline(v_node, v_grace) then
    return query select 'NODE_SUSPENDED'::text, 'suspended'::text, v_node.last_seen, false, true,
      v_node.attestation_due_at + make_interval(secs => v_grace), false;
    return;
  end if;

  -- Write coalescing: last_seen moves at most once per interval, so a fleet beating every 60 s costs
  -- one row write per node per interval, not per beat.
  update public.node_identities n set last_seen = now(), last_metrics = coalesce(p_metrics, n.last_metrics)
    where n.id = v_node.id and (n.last_seen is null or n.last_seen <= now() - make_interval(secs => p_min_write_interval_seconds))
    returning n.last_seen into v_last_seen;
  v_written := found;
  if not v_written then
    v_last_seen := v_node.last_seen;
  end if;

  v_due := v_node.attestation_due_at <= now();
  if v_due then
    v_deadline := v_node.attestation_due_at + make_interval(secs => v_grace);
    if p_reattestation_nonce_hash is not null then
      perform private.issue_reattestation_nonce(p_node_id, p_reattestation_nonce_hash, v_deadline);
      v_issued := true;
    end if;
  end if;
  return query select null::text, v_node.status, v_last_seen, v_written, v_due, v_deadline, v_issued;
end
$$;
comment on function public.record_heartbeat(text, jsonb, integer, text) is
  'heartbeat in one round trip: status check (NODE_*), last_seen written at most once per p_min_write_interval_seconds, and whether re-attestation is due. When due and p_reattestation_nonce_hash is given, that nonce becomes the node''s re-attestation challenge (deadline = due + grace). Past the deadline the node is suspended and error_code is NODE_SUSPENDED.';

create or replace function public.issue_reattestation_challenge(p_node_id text, p_nonce_hash text)
returns table (error_code text, deadline timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_node public.node_identities;
  v_grace integer;
  v_deadline timestamptz;
begin
  perform private.require_sha256(p_nonce_hash, 'nonce hash');
  select * into v_node from public.node_identities n where n.node_id = p_node_id;
  perform private.check_node_status(v_node);
  select p.reattestation_grace_seconds into v_grace from public.attestation_policies p where p.tier = v_node.tier;
  v_deadline := v_node.attestation_due_at + make_interval(secs => v_grace);
  if private.enforce_reattestation_deadline(v_node, v_grace) then
    return query select 'NODE_SUSPENDED'::text, v_deadline;
    return;
  end if;
  perform private.issue_reattestation_nonce(p_node_id, p_nonce_hash, v_deadline);
  return query select null::text, v_deadline;
end
$$;
comment on function public.issue_reattestation_challenge(text, text) is
  'Binds a re-attestation nonce to an active node (replacing an unanswered one), valid until due + grace; an overdue node is suspended instead (error_code NODE_SUSPENDED).';

create or replace function public.record_attestation(
  p_node_id text, p_result text, p_reason text, p_pcr_values jsonb, p_clock bigint, p_reset_count bigint,
  p_restart_count bigint, p_clock_safe boolean, p_policy_version integer, p_details jsonb default '{}'::jsonb
) returns table (status text, status_reason text, last_attested_at timestamptz, attestation_due_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_node public.node_identities;
  v_interval integer;
  v_constraint text;
begin
  if p_result is null or p_result not in ('passed', 'failed') or (p_result = 'failed') <> (p_reason is not null) then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'result must be passed (no reason) or failed (with a reason code)';
  end if;
  if p_result = 'passed' and (p_clock is null or p_reset_count is null or p_restart_count is null or p_clock_safe is null
                              or p_pcr_values is null) then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'a passed attestation needs its PCR values and clock info';
  end if;
  select * into v_node from public.node_identities n where n.node_id = p_node_id for update;
  perform private.check_node_status(v_node);
  begin
    insert into public.attestations (node_id, kind, result, reason, pcr_values, clock, reset_count, restart_count,
      clock_safe, policy_version, details)
    values (p_node_id, 'reattestation', p_result, p_reason, p_pcr_values, p_clock, p_reset_count, p_restart_count,
      p_clock_safe, p_policy_version, coalesce(p_details, '{}'::jsonb));
  exception when check_violation then
    get stacked diagnostics v_constraint = constraint_name;
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = format('invalid attestation record (%s)', v_constraint);
  end;
  if p_result = 'passed' then
    select p.reattestation_interval_seconds into v_interval from public.attestation_policies p where p.tier = v_node.tier;
    update public.node_identities n
      set last_attested_at = now(), attestation_due_at = now() + make_interval(secs => v_interval),
          last_clock = p_clock, last_reset_count = p_reset_count, last_restart_count = p_restart_count,
          last_clock_safe = p_clock_safe, policy_version = coalesce(p_policy_version, n.policy_version)
      where n.id = v_node.id;
    -- Answered: nonces issued meanwhile are moot.
    delete from public.attestation_challenges c
      where c.node_id = p_node_id and c.purpose = 'reattestation' and c.used_at is null;
  elsif p_reason = 'PCR_POLICY_VIOLATION' then
    -- The node runs something its policy does not allow: stop admitting it until an admin looks.
    perform private.set_audit_context('system', p_node_id, 'pcr_policy_violation');
    update public.node_identities n set status = 'suspended', status_reason = 'pcr_policy_violation'
      where n.id = v_node.id;
  end if;
  return query select n.status, n.status_reason, n.last_attested_at, n.attestation_due_at
    from public.node_identities n where n.id = v_node.id;
end
$$;
comment on function public.record_attestation(text, text, text, jsonb, bigint, bigint, bigint, boolean, integer, jsonb) is
  're-attestation verdict: always recorded in attestations; passed moves the due date by the policy interval and keeps the clock info; PCR_POLICY_VIOLATION suspends the node (audited); other failures are only recorded (the node may retry until the deadline).';
