-- bench/capacity/auth-model.sql: a model of the auth service's tables, which ugcflow does not
-- own (it only verifies the service's JWTs), so that they can be sized the same way as ours:
-- the accounts, the linked (social) accounts and the login records, with the indexes such a
-- service needs (by login and e-mail; by provider account; a user's recent logins). Columns
-- and value lengths are representative, not the service's exact schema: an argon2id hash of
-- 97 characters, a browser user agent of about 110, an IPv4 address.
--   psql "$DSN" -v schema=S -v users=500000 -v linked=500000 -v logins=1000000 -f auth-model.sql
\set ON_ERROR_STOP on
SET search_path TO :"schema";
SET synchronous_commit = off;
CREATE TABLE auth_users (
  id uuid PRIMARY KEY,
  login text NOT NULL UNIQUE,
  email text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  first_name text,
  last_name text,
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE auth_linked_accounts (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
  provider text NOT NULL,
  provider_user_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, provider_user_id)
);
CREATE INDEX auth_linked_accounts_user ON auth_linked_accounts (user_id);
CREATE TABLE auth_login_records (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
  user_agent text NOT NULL,
  ip inet NOT NULL,
  device text NOT NULL,
  success boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_login_records_user_recent ON auth_login_records (user_id, created_at DESC);

INSERT INTO auth_users (id, login, email, password_hash, first_name, last_name, created_at)
SELECT md5('u' || i)::uuid, 'viewer' || i, 'viewer' || i || '@example.com',
       '$argon2id$v=19$m=65536,t=3,p=4$' || left(md5('s' || i), 22) || '$' ||
       md5('h' || i) || left(md5('k' || i), 11),
       'Name' || (i % 1000), 'Surname' || (i % 5000), now() - (i % 86400) * interval '1 minute'
FROM generate_series(0, :users - 1) i;
INSERT INTO auth_linked_accounts (id, user_id, provider, provider_user_id)
SELECT md5('l' || i)::uuid, md5('u' || (i % :users))::uuid,
       (ARRAY['yandex', 'vk', 'google'])[1 + (i / :users) % 3], (100000000 + i)::text
FROM generate_series(0, :linked - 1) i;
INSERT INTO auth_login_records (id, user_id, user_agent, ip, device, success, created_at)
SELECT md5('r' || i)::uuid, md5('u' || (i % :users))::uuid,
       'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) '
       || 'Chrome/120.0.' || (i % 6000) || '.0 Safari/537.36',
       ('10.' || (i % 256) || '.' || (i / 256 % 256) || '.' || (i / 65536 % 256))::inet,
       (ARRAY['web', 'smart_tv', 'mobile'])[1 + i % 3], i % 20 <> 0,
       now() - (i % 2592000) * interval '1 second'
FROM generate_series(0, :logins - 1) i;
