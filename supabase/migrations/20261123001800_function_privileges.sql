-- Only the service role (the Worker) may call the API functions; the anon and authenticated roles
-- (the dApp's browser sessions through PostgREST) may call none. New functions are executable by
-- PUBLIC by default and Supabase adds default grants to anon/authenticated, so revoke both explicitly.
do $$
declare
  f regprocedure;
begin
  for f in
    select p.oid::regprocedure from pg_proc p join pg_namespace s on s.oid = p.pronamespace
    where s.nspname = 'public' and p.proname in (
      'issue_install_token', 'begin_install', 'revoke_install_token', 'list_install_tokens', 'consume_challenge',
      'check_ek_available', 'store_pending_activation', 'complete_registration', 'record_registration_failure',
      'issue_node_challenge', 'begin_node_session', 'record_heartbeat', 'issue_reattestation_challenge',
      'record_attestation', 'get_node', 'list_nodes', 'set_node_status', 'get_policy', 'put_policy',
      'list_ek_anchors', 'add_ek_anchor', 'delete_ek_anchor', 'purge_expired_records')
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;

-- Helpers are internal: nobody but their owner calls them directly.
revoke all on all functions in schema private from public, anon, authenticated, service_role;
