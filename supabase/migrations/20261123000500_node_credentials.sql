-- API keys of nodes. A node proves itself with its API key plus a node-key signature over a fresh
-- challenge, and gets a short session JWT.
create table if not exists public.node_credentials (
  id uuid primary key default gen_random_uuid(),
  node_id text not null references public.node_identities (node_id) on delete cascade,
  api_key_hash text not null unique check (private.is_sha256_hex(api_key_hash)),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default (now() + interval '1 year'),
  revoked_at timestamptz,
  constraint node_credentials_lifetime check (expires_at > created_at)
);

comment on table public.node_credentials is
  'Node API keys (ndr_live_…), stored as SHA-256 only. Deviation from the seed schema: there is no per-node jwt_secret column, because session JWTs are ES256, signed with the service''s key and verifiable offline through /.well-known/jwks.json.';
comment on column public.node_credentials.id is 'Row id.';
comment on column public.node_credentials.node_id is 'The node this key belongs to.';
comment on column public.node_credentials.api_key_hash is 'SHA-256 (lowercase hex) of the API key; the key is shown to the node once at activation. Replaces the seed''s jwt_secret: no per-node JWT secret exists (sessions are ES256 JWTs signed with the service key).';
comment on column public.node_credentials.created_at is 'When the key was issued.';
comment on column public.node_credentials.expires_at is 'The key is refused after this (one year after issue).';
comment on column public.node_credentials.revoked_at is 'When the key was revoked (set when the node is revoked).';

-- One live key per node.
create unique index if not exists node_credentials_live_idx on public.node_credentials (node_id) where revoked_at is null;

alter table public.node_credentials enable row level security;
-- The API roles get nothing; the service role may read, and writes only through the SQL functions.
revoke all on table public.node_credentials from public, anon, authenticated, service_role;
grant select on table public.node_credentials to service_role;
