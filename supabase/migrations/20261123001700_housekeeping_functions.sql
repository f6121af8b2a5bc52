-- Housekeeping: challenges and activations are short-lived; keep a day of them for forensics and drop
-- the rest. Run it from a scheduler (Supabase cron, or the Worker's scheduled handler).
create or replace function public.purge_expired_records(p_retention_seconds integer default 86400)
returns table (challenges_deleted integer, activations_deleted integer)
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_before timestamptz;
  v_challenges integer;
  v_activations integer;
begin
  if p_retention_seconds is null or p_retention_seconds < 0 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'retention must be >= 0 seconds';
  end if;
  v_before := now() - make_interval(secs => p_retention_seconds);
  delete from public.attestation_challenges c where c.expires_at < v_before or c.used_at < v_before;
  get diagnostics v_challenges = row_count;
  delete from public.pending_activations a
    where a.expires_at < v_before or (a.state <> 'pending' and coalesce(a.completed_at, a.created_at) < v_before);
  get diagnostics v_activations = row_count;
  return query select v_challenges, v_activations;
end
$$;
comment on function public.purge_expired_records(integer) is
  'Deletes challenges and pending activations that expired or ended more than p_retention_seconds ago.';
