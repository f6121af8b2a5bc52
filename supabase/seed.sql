-- Development seed data, applied by `supabase db reset` (and not by our migration runner).
-- Intentionally empty of secrets: install tokens are issued through the admin API so that only their
-- hashes ever reach the database.
select 1;
