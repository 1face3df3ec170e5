/**
 * The store's schema, as numbered migrations run in order at start (Flyway style: applied
 * versions are kept in schema_migrations; a migration is never edited once released, a
 * change is a new one). One text serves both stores where they agree; where they differ
 * (column types, triggers), a migration has a text for each.
 *
 * Inference records are immutable: triggers refuse UPDATE and DELETE on them. Ground truth
 * lives in its own table, joined by (model, inference_id) to every record of that id.
 */
import type { Dialect } from './dialect.js'
import { POSTGRES, SQLITE } from './dialect.js'
import { driftRollupTablesSql } from './drift-rollups.js'
import { backfillSql, rollupTablesSql } from './rollups.js'

export type Migration = { readonly version: number; readonly name: string } & (
  | { readonly sql: string }
  | { readonly sqlite: string; readonly postgres: string }
)

export function migrationSql(m: Migration, dialect: Dialect['name']): string {
  return 'sql' in m ? m.sql : m[dialect]
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'inference log and ground truth',
    sqlite: `
      CREATE TABLE inferences (
        record_id    TEXT PRIMARY KEY,
        inference_id TEXT NOT NULL,
        ts           INTEGER NOT NULL,
        server_ts    INTEGER NOT NULL,
        model        TEXT NOT NULL,
        version      TEXT NOT NULL,
        route        TEXT,
        reason       TEXT,
        role         TEXT NOT NULL,
        sticky_hash  TEXT,
        inputs       TEXT,
        outputs      TEXT,
        latency_ms   REAL NOT NULL,
        status       INTEGER NOT NULL,
        error_code   TEXT,
        revision     INTEGER,
        attributes   TEXT
      );
      CREATE INDEX inferences_by_id ON inferences (model, inference_id);
      CREATE INDEX inferences_by_time ON inferences (model, ts, record_id);
      CREATE TRIGGER inferences_no_update BEFORE UPDATE ON inferences BEGIN SELECT RAISE(ABORT, 'inference records are immutable'); END;
      CREATE TRIGGER inferences_no_delete BEFORE DELETE ON inferences BEGIN SELECT RAISE(ABORT, 'inference records are immutable'); END;
      CREATE TABLE ground_truth (
        model        TEXT NOT NULL,
        inference_id TEXT NOT NULL,
        label        TEXT,
        value        REAL,
        ts           INTEGER NOT NULL,
        received_at  INTEGER NOT NULL,
        PRIMARY KEY (model, inference_id)
      );`,
    postgres: `
      CREATE TABLE inferences (
        record_id    TEXT PRIMARY KEY,
        inference_id TEXT NOT NULL,
        ts           BIGINT NOT NULL,
        server_ts    BIGINT NOT NULL,
        model        TEXT NOT NULL,
        version      TEXT NOT NULL,
        route        TEXT,
        reason       TEXT,
        role         TEXT NOT NULL,
        sticky_hash  TEXT,
        inputs       JSONB,
        outputs      JSONB,
        latency_ms   DOUBLE PRECISION NOT NULL,
        status       INTEGER NOT NULL,
        error_code   TEXT,
        revision     INTEGER,
        attributes   JSONB
      );
      CREATE INDEX inferences_by_id ON inferences (model, inference_id);
      CREATE INDEX inferences_by_time ON inferences (model, ts, record_id);
      CREATE FUNCTION inferences_immutable() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'inference records are immutable'; END $$;
      CREATE TRIGGER inferences_immutable BEFORE UPDATE OR DELETE ON inferences
        FOR EACH ROW EXECUTE FUNCTION inferences_immutable();
      CREATE TABLE ground_truth (
        model        TEXT NOT NULL,
        inference_id TEXT NOT NULL,
        label        TEXT,
        value        DOUBLE PRECISION,
        ts           BIGINT NOT NULL,
        received_at  BIGINT NOT NULL,
        PRIMARY KEY (model, inference_id)
      );`,
  },
  {
    version: 2,
    name: 'predicted label and score, for comparisons in SQL',
    // Written by the store worker from the outputs (inference-log/expand.ts); existing rows are filled from their
    // outputs JSON, with the immutability trigger lifted for that one statement.
    sqlite: `
      ALTER TABLE inferences ADD COLUMN predicted_label TEXT;
      ALTER TABLE inferences ADD COLUMN score REAL;
      DROP TRIGGER inferences_no_update;
      UPDATE inferences SET
        predicted_label = CASE json_type(outputs, '$.label') WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
          ELSE CAST(json_extract(outputs, '$.label') AS TEXT) END,
        score = coalesce(
          CASE WHEN json_type(outputs, '$.probability') IN ('real', 'integer') THEN json_extract(outputs, '$.probability') END,
          CASE WHEN json_type(outputs, '$.score') IN ('real', 'integer') THEN json_extract(outputs, '$.score') END,
          CASE WHEN json_type(outputs, '$.value') IN ('real', 'integer') THEN json_extract(outputs, '$.value') END,
          CASE WHEN json_type(outputs, '$.prediction') IN ('real', 'integer') THEN json_extract(outputs, '$.prediction') END)
      WHERE json_valid(outputs) AND json_type(outputs) = 'object';
      CREATE TRIGGER inferences_no_update BEFORE UPDATE ON inferences BEGIN SELECT RAISE(ABORT, 'inference records are immutable'); END;`,
    postgres: `
      ALTER TABLE inferences ADD COLUMN predicted_label TEXT;
      ALTER TABLE inferences ADD COLUMN score DOUBLE PRECISION;
      ALTER TABLE inferences DISABLE TRIGGER inferences_immutable;
      UPDATE inferences SET
        predicted_label = outputs->>'label',
        score = coalesce(
          CASE WHEN jsonb_typeof(outputs->'probability') = 'number' THEN (outputs->>'probability')::double precision END,
          CASE WHEN jsonb_typeof(outputs->'score') = 'number' THEN (outputs->>'score')::double precision END,
          CASE WHEN jsonb_typeof(outputs->'value') = 'number' THEN (outputs->>'value')::double precision END,
          CASE WHEN jsonb_typeof(outputs->'prediction') = 'number' THEN (outputs->>'prediction')::double precision END)
      WHERE jsonb_typeof(outputs) = 'object';
      ALTER TABLE inferences ENABLE TRIGGER inferences_immutable;`,
  },
  {
    version: 3,
    name: 'lifecycle: stages, stage requests, activity log',
    // activity is append-only like the inference log; stages and requests change as decided
    sqlite: `
      CREATE TABLE version_stages (
        model TEXT NOT NULL, version TEXT NOT NULL, stage TEXT NOT NULL, locked INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL, PRIMARY KEY (model, version)
      );
      CREATE TABLE stage_requests (
        id TEXT PRIMARY KEY, model TEXT NOT NULL, version TEXT NOT NULL, from_stage TEXT NOT NULL, to_stage TEXT NOT NULL,
        skipped TEXT NOT NULL, requester TEXT NOT NULL, comment TEXT, status TEXT NOT NULL, decided_by TEXT,
        decision_comment TEXT, created_at INTEGER NOT NULL, decided_at INTEGER
      );
      CREATE INDEX stage_requests_by_status ON stage_requests (status, model);
      CREATE UNIQUE INDEX stage_requests_one_pending ON stage_requests (model, version) WHERE status = 'pending';
      CREATE TABLE activity (
        id TEXT PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, kind TEXT NOT NULL,
        model TEXT, version TEXT, detail TEXT, comment TEXT
      );
      CREATE INDEX activity_by_time ON activity (at);
      CREATE TRIGGER activity_no_update BEFORE UPDATE ON activity BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END;
      CREATE TRIGGER activity_no_delete BEFORE DELETE ON activity BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END;`,
    postgres: `
      CREATE TABLE version_stages (
        model TEXT NOT NULL, version TEXT NOT NULL, stage TEXT NOT NULL, locked INTEGER NOT NULL DEFAULT 0,
        updated_at BIGINT NOT NULL, PRIMARY KEY (model, version)
      );
      CREATE TABLE stage_requests (
        id TEXT PRIMARY KEY, model TEXT NOT NULL, version TEXT NOT NULL, from_stage TEXT NOT NULL, to_stage TEXT NOT NULL,
        skipped TEXT NOT NULL, requester TEXT NOT NULL, comment TEXT, status TEXT NOT NULL, decided_by TEXT,
        decision_comment TEXT, created_at BIGINT NOT NULL, decided_at BIGINT
      );
      CREATE INDEX stage_requests_by_status ON stage_requests (status, model);
      CREATE UNIQUE INDEX stage_requests_one_pending ON stage_requests (model, version) WHERE status = 'pending';
      CREATE TABLE activity (
        id TEXT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, kind TEXT NOT NULL,
        model TEXT, version TEXT, detail TEXT, comment TEXT
      );
      CREATE INDEX activity_by_time ON activity (at);
      CREATE FUNCTION activity_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'the activity log is append-only'; END $$;
      CREATE TRIGGER activity_append_only BEFORE UPDATE OR DELETE ON activity
        FOR EACH ROW EXECUTE FUNCTION activity_append_only();`,
  },
  {
    version: 4,
    name: 'route revisions: every applied routes file, global numbers',
    // Appended to, never changed: a rollback is a new revision that copies an earlier one
    // (rollback_of). The head (highest number) is the revision in force on every replica.
    sqlite: `
      CREATE TABLE route_revisions (
        number INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, source TEXT NOT NULL, origin TEXT NOT NULL,
        rollback_of INTEGER, trigger TEXT NOT NULL, actor TEXT NOT NULL, applied_at INTEGER NOT NULL
      );
      CREATE INDEX route_revisions_by_origin ON route_revisions (origin, number);
      CREATE TRIGGER route_revisions_no_update BEFORE UPDATE ON route_revisions BEGIN SELECT RAISE(ABORT, 'route revisions are append-only'); END;`,
    postgres: `
      CREATE TABLE route_revisions (
        number INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, source TEXT NOT NULL, origin TEXT NOT NULL,
        rollback_of INTEGER, trigger TEXT NOT NULL, actor TEXT NOT NULL, applied_at BIGINT NOT NULL
      );
      CREATE INDEX route_revisions_by_origin ON route_revisions (origin, number);
      CREATE FUNCTION route_revisions_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'route revisions are append-only'; END $$;
      CREATE TRIGGER route_revisions_append_only BEFORE UPDATE ON route_revisions
        FOR EACH ROW EXECUTE FUNCTION route_revisions_append_only();`,
  },
  {
    version: 5,
    name: 'canaries: one state for every replica, their counts, the judge lease',
    // canaries: a canary (model + settings, hashed) where it is; written only by the holder of
    // the 'canary-judge' lease. canary_counts: each replica's counts of the step in force,
    // replaced every second (an earlier step's are deleted as the canary moves on). leases: a holder and an expiry in the store's clock (ms).
    sqlite: `
      CREATE TABLE canaries (
        key TEXT PRIMARY KEY, model TEXT NOT NULL, step INTEGER NOT NULL, status TEXT NOT NULL,
        step_started_at INTEGER NOT NULL, events TEXT NOT NULL, updated_at INTEGER NOT NULL
      );
      CREATE TABLE canary_counts (
        key TEXT NOT NULL, step INTEGER NOT NULL, replica TEXT NOT NULL, requests INTEGER NOT NULL,
        errors INTEGER NOT NULL, slow INTEGER NOT NULL, compared INTEGER NOT NULL, disagreed INTEGER NOT NULL,
        p99_ms REAL NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (key, step, replica)
      );
      CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL);`,
    postgres: `
      CREATE TABLE canaries (
        key TEXT PRIMARY KEY, model TEXT NOT NULL, step INTEGER NOT NULL, status TEXT NOT NULL,
        step_started_at BIGINT NOT NULL, events TEXT NOT NULL, updated_at BIGINT NOT NULL
      );
      CREATE TABLE canary_counts (
        key TEXT NOT NULL, step INTEGER NOT NULL, replica TEXT NOT NULL, requests INTEGER NOT NULL,
        errors INTEGER NOT NULL, slow INTEGER NOT NULL, compared INTEGER NOT NULL, disagreed INTEGER NOT NULL,
        p99_ms DOUBLE PRECISION NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (key, step, replica)
      );
      CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL);`,
  },
  {
    version: 6,
    name: 'versions of inferences sent in',
    // which versions have records sent in (role external), so that the catalog lists those served
    // elsewhere without scanning the log; written with the records (inference-log/sent-in.ts)
    sqlite: `
      CREATE TABLE sent_in_versions (
        model TEXT NOT NULL, version TEXT NOT NULL, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, PRIMARY KEY (model, version)
      );`,
    postgres: `
      CREATE TABLE sent_in_versions (
        model TEXT NOT NULL, version TEXT NOT NULL, first_at BIGINT NOT NULL, last_at BIGINT NOT NULL, PRIMARY KEY (model, version)
      );`,
  },
  {
    version: 7,
    name: 'reference profiles: bins and counts a version\'s drift is measured against',
    // one profile a version (drift/profile.ts, as JSON text), replaced whole when a new one is given
    sql: `
      CREATE TABLE reference_profiles (
        model TEXT NOT NULL, version TEXT NOT NULL, profile TEXT NOT NULL,
        updated_at BIGINT NOT NULL, updated_by TEXT NOT NULL, PRIMARY KEY (model, version)
      );`,
  },
  {
    version: 8,
    name: 'rollups for the comparison, built from the records stored so far',
    // Kept by the store as it writes from now on (rollups.ts). Generated from the rollups' SQL:
    // a change to those expressions needs a migration that empties and rebuilds the tables.
    sqlite: `${rollupTablesSql('sqlite')}\n${backfillSql(SQLITE)}`,
    postgres: `${rollupTablesSql('postgres')}\n${backfillSql(POSTGRES)}`,
  },
  {
    version: 9,
    name: 'drift rollups: records counted in their version\'s profile bins a minute',
    // empty: the store worker counts the records of each profiled version in the background (drift/drift-rollups.ts)
    sqlite: driftRollupTablesSql('sqlite'),
    postgres: driftRollupTablesSql('postgres'),
  },
  {
    version: 10,
    name: 'drift rollups: SQLite\'s counted again, without a JSON true as a number',
    // kept by the rule before this migration, SQLite's counted a true in a numeric feature as 1:
    // without a state, each profiled version's rows are emptied and rebuilt at the writer's start
    sqlite: 'DELETE FROM drift_rollup_state;',
    postgres: 'SELECT 1; -- PostgreSQL never counted a boolean as a number',
  },
]

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version
