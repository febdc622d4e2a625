-- The transactional outbox (docs/analytics.md): every UGC write inserts its analytics event
-- here in the same statement, so both commit or neither does; the relay (the postgres_outbox
-- source) publishes rows in seq order and deletes them after the broker's ack. The event id is
-- made here, once: a UUIDv7 from the clock at insert (PostgreSQL 15 has no uuidv7(); this is
-- gen_random_uuid() with its first 48 bits replaced by Unix milliseconds and version 7). The
-- payload is json, not jsonb: it is written once and read once, as text. The table is a queue:
-- rows live for milliseconds, so autovacuum runs on a fixed count of dead rows rather than a
-- share of a table that is mostly empty. outbox_dead keeps the rows whose events a sink
-- refused for good, with the reason. No trigger notifies the relay: a NOTIFY inside a write
-- would serialise the writes' commits (the store notifies after them, postgres_pool.h).
CREATE OR REPLACE FUNCTION ugcflow_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $f$
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$f$;
CREATE TABLE IF NOT EXISTS outbox (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id uuid NOT NULL DEFAULT ugcflow_uuid_v7(),
  payload json NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0);
CREATE TABLE IF NOT EXISTS outbox_dead (
  seq bigint PRIMARY KEY,
  event_id uuid NOT NULL,
  payload json NOT NULL,
  reason text NOT NULL,
  buried_at timestamptz NOT NULL DEFAULT now()
);
