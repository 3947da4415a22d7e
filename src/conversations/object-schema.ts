/**
 * The conversation object's own SQLite schema, as ordered migrations. An object applies
 * the ones it has not yet applied when it loads, so live objects gain new columns and
 * tables. Append a migration for every change; never edit one that has shipped.
 */
const MIGRATIONS: readonly string[] = [
  // 1: the conversation's identity and sync state, its metadata and its messages.
  `CREATE TABLE IF NOT EXISTS conversation (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     conversation_id TEXT NOT NULL, team_id TEXT NOT NULL, chatbot_id TEXT NOT NULL, channel TEXT NOT NULL,
     participant_id TEXT NOT NULL, started_at TEXT NOT NULL,
     -- the customer fields this conversation last wrote to its participant in D1
     synced_name TEXT, synced_email TEXT, synced_phone TEXT, synced_timezone TEXT,
     -- how far the D1 projection has caught up
     flushed_revision INTEGER NOT NULL DEFAULT 0, flushed_seq INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE IF NOT EXISTS metadata (
     key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL, revision INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE IF NOT EXISTS messages (
     seq INTEGER PRIMARY KEY, id TEXT NOT NULL, role TEXT NOT NULL, text TEXT NOT NULL, created_at TEXT NOT NULL
   );`,
  // 2: exactly-once messages, the customer outbox, and verified identity.
  `-- customer fields applied here that D1 has not confirmed yet (JSON), retried by the alarm
   ALTER TABLE conversation ADD COLUMN customer_pending TEXT;
   -- the verified identity (identity token subject and its claims, JSON) of the participant
   ALTER TABLE conversation ADD COLUMN verified_sub TEXT;
   ALTER TABLE conversation ADD COLUMN verified_claims TEXT;
   -- a widget message's client_message_id and the answer it got, replayed to a retry
   ALTER TABLE messages ADD COLUMN client_message_id TEXT;
   ALTER TABLE messages ADD COLUMN answer TEXT;
   CREATE UNIQUE INDEX messages_by_client_message_id ON messages (client_message_id) WHERE client_message_id IS NOT NULL;`,
  // 3: the conversation's state, as PATCH /v1/conversations/:id sets it.
  `ALTER TABLE conversation ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
   ALTER TABLE conversation ADD COLUMN outcome TEXT;
   ALTER TABLE conversation ADD COLUMN ended_at TEXT;`,
  // 4: triggers: how often each fired here, its armed timer (with the trigger as armed), and what fired.
  `CREATE TABLE trigger_state (
     trigger_id TEXT PRIMARY KEY, fires INTEGER NOT NULL DEFAULT 0, due_at INTEGER, armed TEXT
   ) WITHOUT ROWID;
   CREATE TABLE events (
     seq INTEGER PRIMARY KEY, id TEXT NOT NULL, trigger_id TEXT NOT NULL, on_event TEXT NOT NULL, action_type TEXT NOT NULL,
     status TEXT NOT NULL, detail TEXT NOT NULL, fired_at TEXT NOT NULL, due_at TEXT
   );`,
  // 5: webhook events D1 or the queue refused, published again by the alarm.
  `CREATE TABLE event_outbox (id TEXT PRIMARY KEY, event TEXT NOT NULL) WITHOUT ROWID;`,
];

/** The migrations this code applies, oldest first; version N is the first N applied. */
export const OBJECT_MIGRATIONS = MIGRATIONS;

/**
 * Brings an object's SQLite up to the last of `migrations`, each migration with its
 * version bump in one transaction. Objects made before versioning existed hold
 * migration 1's tables already: its `IF NOT EXISTS` adopts them.
 */
export function migrateObjectSchema(storage: DurableObjectStorage, migrations: readonly string[] = MIGRATIONS): number {
  const sql = storage.sql;
  sql.exec("CREATE TABLE IF NOT EXISTS schema_version (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), version INTEGER NOT NULL)");
  let version = (sql.exec<{ version: number }>("SELECT version FROM schema_version").toArray()[0]?.version ?? 0) as number;
  while (version < migrations.length) {
    const next = version + 1;
    storage.transactionSync(() => {
      sql.exec(migrations[next - 1]!);
      sql.exec(
        "INSERT INTO schema_version (singleton, version) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET version = excluded.version",
        next,
      );
    });
    version = next;
  }
  return version;
}
