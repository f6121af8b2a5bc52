-- The signed audit log: every audit_events row, folded by the Worker into a Provara Profile A vault
-- (design/PROVARA.md) signed with the service's Ed25519 key. The database keeps the signed lines in log
-- order; the Worker signs (it holds the key), the database only orders, stores and hands out.
--
-- How no change escapes: a trigger queues every new audit_events row (API, node, system or dashboard
-- edit) in audit_log_queue in the same transaction; the Worker's fold pass (a Cron Trigger every minute,
-- and lazily before every export or head) signs the queued rows in id order and removes them from the
-- queue in the transaction that appends their lines. A queue, not an id watermark: identity ids are
-- handed out at insert but become visible at commit, so a watermark could skip a late-committing row.

create table if not exists public.audit_vault (
  id smallint primary key default 1 check (id = 1),
  uid uuid not null,
  root_key_id text not null check (root_key_id ~ '^bp1_[0-9a-f]{16}$'),
  public_key_b64 text not null,
  genesis_json text not null,
  keys_json text not null,
  event_count bigint not null default 0 check (event_count >= 0),
  created_at timestamptz not null default now()
);
comment on table public.audit_vault is
  'The one signed audit vault: its identity (Provara identity/genesis.json and identity/keys.json, written once by the Worker at the first fold) and its length.';
comment on column public.audit_vault.id is 'Always 1: there is one audit vault.';
comment on column public.audit_vault.uid is 'The vault uid (GENESIS payload uid).';
comment on column public.audit_vault.root_key_id is 'bp1_ key id of the service audit key that signs every event.';
comment on column public.audit_vault.public_key_b64 is 'Standard base64 of the raw 32-byte Ed25519 public key.';
comment on column public.audit_vault.genesis_json is 'identity/genesis.json exactly as exported (Python indent=2 form).';
comment on column public.audit_vault.keys_json is 'identity/keys.json exactly as exported.';
comment on column public.audit_vault.event_count is 'Number of lines in audit_log (the next seq is event_count + 1).';
comment on column public.audit_vault.created_at is 'When the vault was created.';

create table if not exists public.audit_log (
  seq bigint primary key check (seq >= 1),
  event_id text not null unique check (event_id ~ '^evt_[0-9a-f]{24}$'),
  actor text not null,
  audit_event_id bigint unique,
  line text not null,
  appended_at timestamptz not null default now()
);
comment on table public.audit_log is
  'events/events.ndjson of the audit vault, one signed canonical JSON line per row, in log order (seq). Append-only.';
comment on column public.audit_log.seq is 'Position in the log, 1-based and gapless.';
comment on column public.audit_log.event_id is 'Provara event_id (evt_ + 24 hex) of the line.';
comment on column public.audit_log.actor is 'Provara actor of the line; each actor''s events form one hash chain (prev_event_hash).';
comment on column public.audit_log.audit_event_id is 'The audit_events row this line signs; null for the vault''s own GENESIS and seed events.';
comment on column public.audit_log.line is 'The signed event as canonical JSON, without the trailing newline.';
comment on column public.audit_log.appended_at is 'When the line was appended (fold time).';

create table if not exists public.audit_log_heads (
  actor text primary key,
  seq bigint not null
);
comment on table public.audit_log_heads is 'The last line of each actor''s chain, so a fold extends the chains without reading the whole log.';
comment on column public.audit_log_heads.actor is 'Provara actor.';
comment on column public.audit_log_heads.seq is 'audit_log.seq of the actor''s newest event.';

create table if not exists public.audit_log_queue (
  audit_event_id bigint primary key
);
comment on table public.audit_log_queue is 'audit_events rows not yet folded into the signed log (filled by a trigger, emptied by audit_log_append).';
comment on column public.audit_log_queue.audit_event_id is 'audit_events.id waiting to be signed.';

alter table public.audit_vault enable row level security;
alter table public.audit_log enable row level security;
alter table public.audit_log_heads enable row level security;
alter table public.audit_log_queue enable row level security;
revoke all on table public.audit_vault, public.audit_log, public.audit_log_heads, public.audit_log_queue
  from public, anon, authenticated, service_role;
grant select on table public.audit_vault, public.audit_log, public.audit_log_heads, public.audit_log_queue to service_role;

-- Every audit row is queued for signing, whichever path wrote it.
create or replace function private.audit_events_enqueue() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.audit_log_queue (audit_event_id) values (new.id) on conflict do nothing;
  return null;
end
$$;
comment on function private.audit_events_enqueue() is 'Queues a new audit_events row for the signed log.';
drop trigger if exists audit_events_enqueue on public.audit_events;
create trigger audit_events_enqueue after insert on public.audit_events
  for each row execute function private.audit_events_enqueue();

-- Rows written before this migration are queued too.
insert into public.audit_log_queue (audit_event_id) select id from public.audit_events on conflict do nothing;

-- The log is append-only for everyone, the table owner's dashboard edits included.
create or replace function private.audit_log_immutable() returns trigger
language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'the signed audit log is append-only';
end
$$;
comment on function private.audit_log_immutable() is 'Refuses updates and deletes on audit_log.';
drop trigger if exists audit_log_immutable on public.audit_log;
create trigger audit_log_immutable before update or delete on public.audit_log
  for each row execute function private.audit_log_immutable();

-- The vault identity once; a second caller gets the first one's vault (and discards its own).
create or replace function public.audit_log_init(
  p_uid uuid, p_root_key_id text, p_public_key_b64 text, p_genesis_json text, p_keys_json text, p_entries jsonb
) returns table (uid uuid, root_key_id text, created boolean)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_inserted boolean := false;
  e jsonb;
  n bigint := 0;
begin
  if jsonb_typeof(p_entries) <> 'array' then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'entries must be an array';
  end if;
  insert into public.audit_vault (id, uid, root_key_id, public_key_b64, genesis_json, keys_json)
    values (1, p_uid, p_root_key_id, p_public_key_b64, p_genesis_json, p_keys_json)
    on conflict (id) do nothing;
  get diagnostics n = row_count;
  v_inserted := n = 1;
  if v_inserted then
    n := 0;
    for e in select * from jsonb_array_elements(p_entries) loop
      n := n + 1;
      insert into public.audit_log (seq, event_id, actor, audit_event_id, line)
        values (n, e->>'event_id', e->>'actor', null, e->>'line');
      insert into public.audit_log_heads (actor, seq) values (e->>'actor', n)
        on conflict (actor) do update set seq = excluded.seq;
    end loop;
    update public.audit_vault set event_count = n where id = 1;
  end if;
  return query select v.uid, v.root_key_id, v_inserted from public.audit_vault v where v.id = 1;
end
$$;
comment on function public.audit_log_init(uuid, text, text, text, text, jsonb) is
  'Creates the audit vault (identity + GENESIS and seed lines) unless it exists; returns the vault in force.';

-- What a fold pass needs in one round trip: the identity, each actor's head line, the queued rows.
create or replace function public.audit_log_state(p_limit integer default 500)
returns table (
  uid uuid, root_key_id text, genesis_json text, keys_json text, event_count bigint, head_lines jsonb,
  pending jsonb, pending_total bigint
)
language plpgsql stable security definer set search_path = '' as $$
#variable_conflict use_column
begin
  if p_limit is null or p_limit not between 1 and 5000 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'limit must be 1..5000';
  end if;
  return query
    select v.uid, v.root_key_id, v.genesis_json, v.keys_json, v.event_count,
      coalesce((select jsonb_agg(l.line order by l.seq) from public.audit_log_heads h
                join public.audit_log l on l.seq = h.seq), '[]'::jsonb),
      coalesce((select jsonb_agg(to_jsonb(a) order by a.id) from (
                  select a.* from public.audit_log_queue q join public.audit_events a on a.id = q.audit_event_id
                  order by a.id limit p_limit) a), '[]'::jsonb),
      (select count(*) from public.audit_log_queue)
    from (select 1) one left join public.audit_vault v on v.id = 1;
end
$$;
comment on function public.audit_log_state(integer) is
  'The audit vault identity (nulls before the first fold), the head line of every actor, and up to p_limit queued audit_events rows in id order.';

-- Appends signed lines. Optimistic: p_expected_count must still be the log length (two concurrent
-- folds cannot fork a chain; the loser gets CONFLICT and its work is redone by the next pass), and
-- every audit row it signs must still be queued.
create or replace function public.audit_log_append(p_expected_count bigint, p_entries jsonb)
returns table (event_count bigint)
language plpgsql volatile security definer set search_path = '' as $$
#variable_conflict use_column
declare
  v_vault public.audit_vault;
  e jsonb;
  n bigint;
  v_audit bigint;
begin
  if jsonb_typeof(p_entries) <> 'array' or jsonb_array_length(p_entries) = 0 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'entries must be a non-empty array';
  end if;
  select * into v_vault from public.audit_vault v where v.id = 1 for update;
  if not found then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND', detail = 'the audit vault does not exist yet';
  end if;
  if v_vault.event_count <> p_expected_count then
    raise exception using errcode = 'P0001', message = 'CONFLICT', detail = 'the audit log grew since it was read';
  end if;
  n := v_vault.event_count;
  for e in select * from jsonb_array_elements(p_entries) loop
    n := n + 1;
    v_audit := (e->>'audit_event_id')::bigint;
    if v_audit is not null then
      delete from public.audit_log_queue q where q.audit_event_id = v_audit;
      if not found then
        raise exception using errcode = 'P0001', message = 'CONFLICT', detail = format('audit event %s is not queued', v_audit);
      end if;
    end if;
    insert into public.audit_log (seq, event_id, actor, audit_event_id, line)
      values (n, e->>'event_id', e->>'actor', v_audit, e->>'line');
    insert into public.audit_log_heads (actor, seq) values (e->>'actor', n)
      on conflict (actor) do update set seq = excluded.seq;
  end loop;
  update public.audit_vault v set event_count = n where v.id = 1;
  return query select n;
end
$$;
comment on function public.audit_log_append(bigint, jsonb) is
  'Appends signed lines [{event_id, actor, line, audit_event_id}] after position p_expected_count and dequeues their audit rows; CONFLICT when another fold won.';

-- The log for export: identity and the lines after p_after_seq (0 = all), in order.
create or replace function public.audit_log_lines(p_after_seq bigint default 0, p_limit integer default 100000)
returns table (seq bigint, line text)
language plpgsql stable security definer set search_path = '' as $$
#variable_conflict use_column
begin
  if p_after_seq is null or p_after_seq < 0 or p_limit is null or p_limit not between 1 and 1000000 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_FAILED', detail = 'after must be >= 0 and limit 1..1000000';
  end if;
  return query select l.seq, l.line from public.audit_log l where l.seq > p_after_seq order by l.seq limit p_limit;
end
$$;
comment on function public.audit_log_lines(bigint, integer) is 'Signed audit lines after position p_after_seq, in log order.';

do $$
declare
  f regprocedure;
begin
  for f in
    select p.oid::regprocedure from pg_proc p join pg_namespace s on s.oid = p.pronamespace
    where s.nspname = 'public' and p.proname in ('audit_log_init', 'audit_log_state', 'audit_log_append', 'audit_log_lines')
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;
revoke all on function private.audit_events_enqueue() from public, anon, authenticated, service_role;
revoke all on function private.audit_log_immutable() from public, anon, authenticated, service_role;
