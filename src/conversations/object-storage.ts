/**
 * Every statement a conversation object runs on its own SQLite (tables in
 * object-schema.ts). Calls are synchronous, so the object can group them in one
 * transaction; rows read and written are added to the `cost` passed in.
 */
import type { CustomerRecord } from "../participants/storage";
import type { Cost } from "../shared/cost";
import type { Trigger, TriggerFiring } from "../triggers/model";
import type { DomainEvent } from "../webhooks/events";
import type { ConversationInfo, ConversationState as ConversationLifecycle, Message, MetadataEntry, VerifiedIdentity } from "./model";

/** The conversation's row: who it is, what it last wrote to D1, how far D1 caught up. */
type ConversationState = {
  info: ConversationInfo;
  synced: CustomerRecord;
  /** Customer fields applied here that D1 has not confirmed. */
  pending: Partial<CustomerRecord>;
  identity: VerifiedIdentity | null;
  flushed: { revision: number; seq: number };
  state: ConversationLifecycle;
};

type ConversationRow = ConversationInfo & {
  synced_name: string | null;
  synced_email: string | null;
  synced_phone: string | null;
  synced_timezone: string | null;
  flushed_revision: number;
  flushed_seq: number;
  customer_pending: string | null;
  verified_sub: string | null;
  verified_claims: string | null;
  status: "open" | "ended";
  outcome: string | null;
  ended_at: string | null;
};

export type StoredMessage = Message & { seq: number; client_message_id?: string | null; answer?: string | null };

const pendingText = (pending: Partial<CustomerRecord>) => (Object.keys(pending).length ? JSON.stringify(pending) : null);

/** True where SQLite refused a second message with the same client_message_id. */
export const isDuplicateClientMessage = (error: unknown) =>
  error instanceof Error && /UNIQUE constraint failed: messages\.client_message_id/.test(error.message);

// Statements run on every message are module constants: the runtime caches prepared
// statements by their text, and a string made afresh per call would be hashed again.
const UPSERT_METADATA =
  "INSERT INTO metadata (key, value, updated_at, revision) VALUES (?, ?, ?, ?) " +
  "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, revision = excluded.revision";

const insertMessagesStatements: string[] = [];
/** The INSERT of `count` messages (a visitor message and its reply are one statement). */
function insertMessagesSql(count: number): string {
  let sql = insertMessagesStatements[count];
  if (!sql) {
    const rows = Array.from({ length: count }, () => "(?, ?, ?, ?, ?, ?, ?)").join(", ");
    sql = `INSERT INTO messages (seq, id, role, text, created_at, client_message_id, answer) VALUES ${rows}`;
    if (count <= 8) insertMessagesStatements[count] = sql;
  }
  return sql;
}

export class ObjectStorage {
  constructor(private readonly sql: SqlStorage) {}

  private run<T extends Record<string, SqlStorageValue>>(cost: Cost | null, query: string, ...params: unknown[]): T[] {
    const cursor = this.sql.exec<T>(query, ...params);
    const rows = cursor.toArray();
    if (cost) {
      cost.doRowsRead += cursor.rowsRead;
      cost.doRowsWritten += cursor.rowsWritten;
    }
    return rows;
  }

  // ---- the conversation row ------------------------------------------------------

  readConversation(): ConversationState | null {
    const row = this.run<ConversationRow>(null, "SELECT * FROM conversation")[0];
    if (!row) return null;
    return {
      info: {
        conversation_id: row.conversation_id,
        team_id: row.team_id,
        chatbot_id: row.chatbot_id,
        channel: row.channel,
        participant_id: row.participant_id,
        started_at: row.started_at,
      },
      synced: { name: row.synced_name, email: row.synced_email, phone: row.synced_phone, timezone: row.synced_timezone },
      pending: row.customer_pending ? JSON.parse(row.customer_pending) : {},
      identity: row.verified_sub ? { sub: row.verified_sub, claims: JSON.parse(row.verified_claims ?? "{}") } : null,
      flushed: { revision: row.flushed_revision, seq: row.flushed_seq },
      state: { status: row.status, outcome: row.outcome, ended_at: row.ended_at },
    };
  }

  writeState(cost: Cost, state: ConversationLifecycle): void {
    this.run(cost, "UPDATE conversation SET status = ?, outcome = ?, ended_at = ?", state.status, state.outcome, state.ended_at);
  }

  insertConversation(cost: Cost, info: ConversationInfo, synced: CustomerRecord, identity: VerifiedIdentity | null): void {
    this.run(
      cost,
      `INSERT INTO conversation (singleton, conversation_id, team_id, chatbot_id, channel, participant_id, started_at,
         synced_name, synced_email, synced_phone, synced_timezone, verified_sub, verified_claims)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      info.conversation_id,
      info.team_id,
      info.chatbot_id,
      info.channel,
      info.participant_id,
      info.started_at,
      synced.name,
      synced.email,
      synced.phone,
      synced.timezone,
      identity?.sub ?? null,
      identity ? JSON.stringify(identity.claims) : null,
    );
  }

  /** What this conversation wrote to its participant, and what of it D1 has yet to confirm. */
  writeSynced(cost: Cost, synced: CustomerRecord, pending: Partial<CustomerRecord>): void {
    this.run(
      cost,
      "UPDATE conversation SET synced_name = ?, synced_email = ?, synced_phone = ?, synced_timezone = ?, customer_pending = ?",
      synced.name,
      synced.email,
      synced.phone,
      synced.timezone,
      pendingText(pending),
    );
  }

  writeFlushed(cost: Cost, flushed: { revision: number; seq: number }, pending: Partial<CustomerRecord>): void {
    this.run(
      cost,
      "UPDATE conversation SET flushed_revision = ?, flushed_seq = ?, customer_pending = ?",
      flushed.revision,
      flushed.seq,
      pendingText(pending),
    );
  }

  /** The conversation now belongs to another (verified) participant. */
  writeParticipant(cost: Cost, participantId: string, identity: VerifiedIdentity, synced: CustomerRecord): void {
    this.run(
      cost,
      `UPDATE conversation SET participant_id = ?, verified_sub = ?, verified_claims = ?,
         synced_name = ?, synced_email = ?, synced_phone = ?, synced_timezone = ?, customer_pending = NULL`,
      participantId,
      identity.sub,
      JSON.stringify(identity.claims),
      synced.name,
      synced.email,
      synced.phone,
      synced.timezone,
    );
  }

  // ---- metadata --------------------------------------------------------------------

  /** Every key with its revision, and its value where at most `maxUnits` UTF-16 units long (else null). */
  readMetadataIndex(maxUnits: number): { key: string; value: string | null; revision: number }[] {
    return this.run<{ key: string; value: string | null; revision: number }>(
      null,
      "SELECT key, CASE WHEN length(CAST(value AS BLOB)) <= ? THEN value END AS value, revision FROM metadata",
      maxUnits,
    );
  }

  /** Whether the stored value of `key` equals `value`, compared in SQL (for values too large to mirror). */
  valueEquals(cost: Cost, key: string, value: string): boolean {
    return Boolean(this.run<{ same: number }>(cost, "SELECT value = ? AS same FROM metadata WHERE key = ?", value, key)[0]?.same);
  }

  upsertMetadata(cost: Cost, key: string, value: string, updatedAt: string, revision: number): void {
    this.run(cost, UPSERT_METADATA, key, value, updatedAt, revision);
  }

  readAllMetadata(): Record<string, string> {
    const rows = this.run<{ key: string; value: string }>(null, "SELECT key, value FROM metadata ORDER BY key");
    return Object.fromEntries(rows.map((row) => [row.key, row.value]));
  }

  readMetadataEntry(key: string): MetadataEntry | null {
    return this.run<MetadataEntry>(null, "SELECT key, value, updated_at FROM metadata WHERE key = ?", key)[0] ?? null;
  }

  /** The pairs written after revision `after`, up to `upTo`: what the projection lacks. */
  readMetadataChanges(cost: Cost, after: number, upTo: number): MetadataEntry[] {
    return this.run<MetadataEntry>(cost, "SELECT key, value, updated_at FROM metadata WHERE revision > ? AND revision <= ?", after, upTo);
  }

  /** True where the key existed. */
  deleteMetadata(key: string): boolean {
    const cursor = this.sql.exec("DELETE FROM metadata WHERE key = ?", key);
    cursor.toArray();
    return cursor.rowsWritten > 0;
  }

  // ---- triggers --------------------------------------------------------------------

  /** How often a trigger fired in this conversation. */
  triggerFires(triggerId: string): number {
    return this.run<{ fires: number }>(null, "SELECT fires FROM trigger_state WHERE trigger_id = ?", triggerId)[0]?.fires ?? 0;
  }

  /** Arms (or re-arms) a timer for `trigger`, due at `dueAt` (ms). */
  armTimer(cost: Cost, trigger: Trigger, dueAt: number): void {
    this.run(
      cost,
      `INSERT INTO trigger_state (trigger_id, fires, due_at, armed) VALUES (?, 0, ?, ?)
       ON CONFLICT (trigger_id) DO UPDATE SET due_at = excluded.due_at, armed = excluded.armed`,
      trigger.id,
      dueAt,
      JSON.stringify(trigger),
    );
  }

  /** Disarms every timer (the conversation ended). */
  disarmTimers(cost: Cost): void {
    this.run(cost, "UPDATE trigger_state SET due_at = NULL, armed = NULL WHERE due_at IS NOT NULL");
  }

  /** The timers due by `now` (ms), each with the trigger as it was armed. */
  dueTimers(now: number): { trigger: Trigger; dueAt: number }[] {
    return this.run<{ armed: string; due_at: number }>(
      null,
      "SELECT armed, due_at FROM trigger_state WHERE due_at <= ? ORDER BY due_at",
      now,
    ).map((row) => ({ trigger: JSON.parse(row.armed) as Trigger, dueAt: row.due_at }));
  }

  /** The earliest armed timer (ms), or null. */
  nextTimer(): number | null {
    return this.run<{ due: number | null }>(null, "SELECT min(due_at) AS due FROM trigger_state")[0]?.due ?? null;
  }

  /** Records a firing: the trigger's count moves on and its timer (if any) is spent. */
  recordFiring(cost: Cost, firing: TriggerFiring): void {
    this.run(
      cost,
      `INSERT INTO trigger_state (trigger_id, fires) VALUES (?, 1)
       ON CONFLICT (trigger_id) DO UPDATE SET fires = fires + 1, due_at = NULL, armed = NULL`,
      firing.trigger_id,
    );
    this.run(
      cost,
      "INSERT INTO events (id, trigger_id, on_event, action_type, status, detail, fired_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      firing.id,
      firing.trigger_id,
      firing.on,
      firing.action_type,
      firing.status,
      firing.detail,
      firing.fired_at,
      firing.due_at,
    );
  }

  /** Drops a timer whose trigger no longer exists. */
  dropTimer(triggerId: string): void {
    this.run(null, "UPDATE trigger_state SET due_at = NULL, armed = NULL WHERE trigger_id = ?", triggerId);
  }

  /** What fired here: the newest `limit`, oldest first. */
  readFirings(limit: number): TriggerFiring[] {
    return this.run<Omit<TriggerFiring, "on"> & { on_event: TriggerFiring["on"]; seq: number }>(
      null,
      "SELECT seq, id, trigger_id, on_event, action_type, status, detail, fired_at, due_at FROM events ORDER BY seq DESC LIMIT ?",
      limit,
    )
      .map(({ seq: _seq, on_event, ...firing }) => ({ ...firing, on: on_event }))
      .reverse();
  }

  // ---- webhook events --------------------------------------------------------------

  keepEvents(events: readonly DomainEvent[]): void {
    for (const event of events)
      this.run(null, "INSERT OR IGNORE INTO event_outbox (id, event) VALUES (?, ?)", event.id, JSON.stringify(event));
  }

  keptEvents(limit: number): DomainEvent[] {
    return this.run<{ event: string }>(null, "SELECT event FROM event_outbox LIMIT ?", limit).map(
      (row) => JSON.parse(row.event) as DomainEvent,
    );
  }

  dropEvents(ids: readonly string[]): void {
    for (const id of ids) this.run(null, "DELETE FROM event_outbox WHERE id = ?", id);
  }

  // ---- messages --------------------------------------------------------------------

  readLastMessage(): { seq: number; created_at: string } | null {
    return this.run<{ seq: number; created_at: string }>(null, "SELECT seq, created_at FROM messages ORDER BY seq DESC LIMIT 1")[0] ?? null;
  }

  /**
   * Appends messages in one statement (a visitor message and its reply are one write).
   * A message sent with a `client_message_id` keeps it and its answer, for replays; the
   * id is unique, so a concurrent duplicate fails here and its transaction rolls back.
   */
  insertMessages(cost: Cost, messages: StoredMessage[]): void {
    const params = messages.flatMap((message) => [
      message.seq,
      message.id,
      message.role,
      message.text,
      message.created_at,
      message.client_message_id ?? null,
      message.answer ?? null,
    ]);
    this.run(cost, insertMessagesSql(messages.length), ...params);
  }

  /** The answer a message sent with this client_message_id got, or null. */
  findAnswer(cost: Cost, clientMessageId: string): string | null {
    return (
      this.run<{ answer: string }>(cost, "SELECT answer FROM messages WHERE client_message_id = ?", clientMessageId)[0]?.answer ?? null
    );
  }

  /** Corrects a recorded answer (the customer write-through failed after it was recorded). */
  writeAnswer(cost: Cost, clientMessageId: string, answer: string): void {
    this.run(cost, "UPDATE messages SET answer = ? WHERE client_message_id = ?", answer, clientMessageId);
  }

  /** The position of message `id`, or null where this conversation has no such message. */
  findMessageSeq(id: string): number | null {
    return this.run<{ seq: number }>(null, "SELECT seq FROM messages WHERE id = ?", id)[0]?.seq ?? null;
  }

  /** Up to `limit` messages after position `afterSeq`, oldest first. */
  readMessagesAfter(afterSeq: number, limit: number): Message[] {
    return this.run<Message & { seq: number }>(
      null,
      "SELECT seq, id, role, text, created_at FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
      afterSeq,
      limit,
    ).map(({ seq: _seq, ...message }) => message);
  }
}
