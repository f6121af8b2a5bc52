-- Extra EK trust anchors: CA certificates an admin adds (a private cloud's vTPM CA, a lab's swtpm CA)
-- in addition to the manufacturer bundle shipped with the Worker.
create table if not exists public.ek_trust_anchors (
  id uuid primary key default gen_random_uuid(),
  label text not null check (length(label) between 1 and 200),
  pem text not null check (pem like '-----BEGIN CERTIFICATE-----%'),
  subject text not null,
  fingerprint text not null unique check (private.is_sha256_hex(fingerprint)),
  created_by text,
  created_at timestamptz not null default now()
);

comment on table public.ek_trust_anchors is
  'Extra CA certificates trusted to issue EK certificates, on top of the shipped manufacturer bundle. Managed with /api/v1/admin/ek-anchors.';
comment on column public.ek_trust_anchors.id is 'Anchor id (used to delete it).';
comment on column public.ek_trust_anchors.label is 'Admin''s name for the anchor, e.g. "GCE vTPM CA".';
comment on column public.ek_trust_anchors.pem is 'The CA certificate, PEM.';
comment on column public.ek_trust_anchors.subject is 'Subject DN of the certificate, as parsed by the Worker.';
comment on column public.ek_trust_anchors.fingerprint is 'SHA-256 (hex) of the certificate DER; one row per certificate.';
comment on column public.ek_trust_anchors.created_by is 'Admin who added it.';
comment on column public.ek_trust_anchors.created_at is 'When it was added.';

alter table public.ek_trust_anchors enable row level security;
-- The API roles get nothing; the service role may read, and writes only through the SQL functions.
revoke all on table public.ek_trust_anchors from public, anon, authenticated, service_role;
grant select on table public.ek_trust_anchors to service_role;
