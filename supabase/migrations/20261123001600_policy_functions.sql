-- Attestation policies and extra EK trust anchors, for the admin API and for the Worker's checks.

create or replace function public.get_policy(p_tier text)
returns table (
  tier text, require_ek_certificate boolean, pcr_selection jsonb, pcr_mode text, allowed_pcr_values jsonb,
  reattestation_interval_seconds integer, reattestation_grace_seconds integer, session_ttl_seconds integer,
  version integer, updated_at timestamptz, updated_by text, event_log_rules jsonb
)
language plpgsql stable security definer set search_path = '' as $$
#variable_conflict use_column
begin
  return query
    select p.tier, p.require_ek_certificate, p.pcr_selection, p.pcr_mode, p.allowed_pcr_values,
           p.reattestation_interval_seconds, p.reattestation_grace_seconds, p.session_ttl_seconds, p.version,
           p.updated_at, p.updated_by, p.event_log_rules
    from public.attestation_policies p where p.tier = p_tier;
  if not found then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'tier must be ALL, ORACLE or GUARDIAN';
  end if;
end
$$;
comment on function public.get_policy(text) is 'The attestation policy of a tier (VALIDATION_FAILED for an unknown tier).';

create or replace function public.put_policy(
  p_tier text, p_require_ek_certificate boolean, p_pcr_selection jsonb, p_pcr_mode text, p_allowed_pcr_values jsonb,
  p_reattestation_interval_seconds integer, p_session_ttl_seconds integer, p_actor text,
  p_reattestation_grace_seconds integer default null, p_event_log_rules jsonb default null
) returns table (
  tier text, require_ek_certificate boolean, pcr_selection jsonb, pcr_mode text, allowed_pcr_values jsonb,
  reattestation_interval_seconds integer, reattestation_grace_seconds integer, session_ttl_seconds integer,
  version integer, updated_at timestamptz, updated_by text, event_log_rules jsonb
)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_allowed jsonb := coalesce(p_allowed_pcr_values, '{}'::jsonb);
  v_before public.attestation_policies;
  v_constraint text;
begin
  select * into v_before from public.attestation_policies p where p.tier = p_tier for update;
  if not found then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'tier must be ALL, ORACLE or GUARDIAN';
  end if;
  if p_require_ek_certificate is null or p_pcr_mode is null or p_pcr_selection is null
     or p_reattestation_interval_seconds is null or p_session_ttl_seconds is null then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'every policy field is required';
  end if;
  -- An allowlist that leaves a selected PCR without values would reject every node: refuse it here.
  if p_pcr_mode = 'allowlist' and private.is_pcr_selection(p_pcr_selection) and private.is_pcr_values(v_allowed, true)
     and exists (select 1 from jsonb_each(p_pcr_selection) as b(bank, indexes), jsonb_array_elements(b.indexes) as i(v)
                 where not (v_allowed -> b.bank) ? (i.v::text)) then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = 'allowlist mode needs allowedPcrValues for every selected PCR';
  end if;
  begin
    update public.attestation_policies p
      set require_ek_certificate = p_require_ek_certificate, pcr_selection = p_pcr_selection, pcr_mode = p_pcr_mode,
          allowed_pcr_values = v_allowed, reattestation_interval_seconds = p_reattestation_interval_seconds,
          reattestation_grace_seconds = coalesce(p_reattestation_grace_seconds, p.reattestation_grace_seconds),
          session_ttl_seconds = p_session_ttl_seconds, event_log_rules = p_event_log_rules,
          version = p.version + 1, updated_at = now(), updated_by = p_actor
      where p.tier = p_tier;
  exception when check_violation then
    get stacked diagnostics v_constraint = constraint_name;
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
      detail = format('invalid policy (%s)', v_constraint);
  end;
  insert into public.audit_events (source, action, actor, auth_uid, reason, details)
  values ('admin_api', 'policy.updated', p_actor, auth.uid(), null,
    jsonb_build_object('tier', p_tier, 'before', to_jsonb(v_before) - 'updated_at' - 'updated_by',
      'version', v_before.version + 1));
  return query select * from public.get_policy(p_tier);
end
$$;
comment on function public.put_policy(text, boolean, jsonb, text, jsonb, integer, integer, text, integer, jsonb) is
  'Admin: replaces a tier''s policy (version + 1), audited with the previous values. Grace is kept when not given; '
  'event-log rules are replaced (null removes them).';

create or replace function public.list_ek_anchors()
returns table (id uuid, label text, pem text, subject text, fingerprint text, created_by text, created_at timestamptz)
language sql stable security definer set search_path = '' as $$
  select a.id, a.label, a.pem, a.subject, a.fingerprint, a.created_by, a.created_at
  from public.ek_trust_anchors a order by a.created_at, a.id
$$;
comment on function public.list_ek_anchors() is 'Extra EK trust anchors, oldest first, with their PEM for chain building.';

create or replace function public.add_ek_anchor(p_label text, p_pem text, p_subject text, p_fingerprint text, p_actor text)
returns table (id uuid, label text, pem text, subject text, fingerprint text, created_by text, created_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_id uuid;
  v_constraint text;
begin
  perform private.require_sha256(p_fingerprint, 'certificate fingerprint');
  begin
    insert into public.ek_trust_anchors (label, pem, subject, fingerprint, created_by)
    values (p_label, p_pem, p_subject, p_fingerprint, p_actor)
    returning ek_trust_anchors.id into v_id;
  exception
    when unique_violation then
      raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'this certificate is already an anchor';
    when check_violation or not_null_violation then
      get stacked diagnostics v_constraint = constraint_name;
      raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED',
        detail = format('invalid anchor (%s)', coalesce(v_constraint, sqlerrm));
  end;
  insert into public.audit_events (source, action, actor, auth_uid, details)
  values ('admin_api', 'ek_anchor.added', p_actor, auth.uid(),
    jsonb_build_object('id', v_id, 'label', p_label, 'subject', p_subject, 'fingerprint', p_fingerprint));
  return query select a.id, a.label, a.pem, a.subject, a.fingerprint, a.created_by, a.created_at
    from public.ek_trust_anchors a where a.id = v_id;
end
$$;
comment on function public.add_ek_anchor(text, text, text, text, text) is
  'Admin: adds an extra EK trust anchor (CONFLICT if the certificate is one already); audited.';

create or replace function public.delete_ek_anchor(p_id uuid, p_actor text)
returns table (id uuid, fingerprint text)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v public.ek_trust_anchors;
begin
  delete from public.ek_trust_anchors a where a.id = p_id returning a.* into v;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'no EK anchor with this id';
  end if;
  insert into public.audit_events (source, action, actor, auth_uid, details)
  values ('admin_api', 'ek_anchor.deleted', p_actor, auth.uid(),
    jsonb_build_object('id', v.id, 'label', v.label, 'subject', v.subject, 'fingerprint', v.fingerprint));
  return query select v.id, v.fingerprint;
end
$$;
comment on function public.delete_ek_anchor(uuid, text) is 'Admin: removes an extra EK trust anchor (NOT_FOUND if unknown); audited.';
