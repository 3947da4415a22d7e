import { DurableObject } from "cloudflare:workers";
import { insertWebConversation, deleteProjectedMetadata, updateConversationCounters, upsertProjectedMetadata } from "./storage";
import { updateCustomerFields, upsertWebParticipant, type CustomerRecord } from "../participants/storage";
import { newCost, tallyD1, type Cost } from "../shared/cost";
import { newId } from "../shared/ids";
import { WIDGET_KEY_PREFIX } from "../shared/key-prefixes";
import { nowIso } from "../shared/time";
import { applyMetadata, type MetadataOutcome, type MetadataStore, type Warning } from "./metadata-rules";
import type {
  ConversationInfo,
  Message,
  MessageInput,
  MessagePage,
  MessageResult,
  MessagesPage,
  MetadataAnswer,
  MetadataEntry,
  PutMetadataResult,
  Snapshot,
  StartInput,
  StartResult,
} from "./model";
import { migrateObjectSchema } from "./object-schema";
import { summaryReply } from "./summary-reply";

/** How long metadata and counters may wait before the alarm copies them to D1. */
const FLUSH_DELAY_MS = 30_000;
const D1_BATCH_SIZE = 25;
/**
 * Values up to this many UTF-16 units are mirrored in memory, so the common case, a
 * pair re-sent unchanged, costs no SQL at all; larger ones are compared in SQL. At
 * most 200 keys, so the mirror stays under about 400 KB per conversation.
 */
const MIRRORED_VALUE_MAX_UNITS = 1024;

type CustomerChange = Partial<CustomerRecord>;

/**
 * One per conversation: the only writer of its messages and metadata. Each message
 * is applied in one synchronous SQLite transaction, so concurrent messages are
 * serialised and the 200-pair cap holds. D1 sees customer fields at once (awaited
 * before answering) and the rest through a debounced alarm.
 */
export class ConversationObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private info: ConversationInfo | null = null;
  private synced: CustomerRecord = { name: null, email: null, phone: null, timezone: null };
  /** Every stored key, with its value where small enough to mirror (else null). */
  private metadataMirror = new Map<string, string | null>();
  private revision = 0;
  private lastSeq = 0;
  private lastMessageAt: string | null = null;
  private flushed = { revision: 0, seq: 0 };
  private alarmPending = false;
  /** D1 customer writes, chained so they land in the order they were applied. */
  private customerWrites: Promise<unknown> = Promise.resolve();
  /** The alarm's projection writes while in flight: a delete must reach D1 after them. */
  private projectionWrites: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrateObjectSchema(ctx.storage);
    this.load();
    ctx.blockConcurrencyWhile(async () => {
      this.alarmPending = (await ctx.storage.getAlarm()) !== null;
    });
  }

  private load(): void {
    const row = this.sql.exec("SELECT * FROM conversation").toArray()[0];
    if (row) {
      this.info = {
        conversation_id: row.conversation_id as string,
        team_id: row.team_id as string,
        chatbot_id: row.chatbot_id as string,
        channel: row.channel as string,
        participant_id: row.participant_id as string,
        started_at: row.started_at as string,
      };
      this.synced = {
        name: row.synced_name as string | null,
        email: row.synced_email as string | null,
        phone: row.synced_phone as string | null,
        timezone: row.synced_timezone as string | null,
      };
      this.flushed = { revision: row.flushed_revision as number, seq: row.flushed_seq as number };
    }
    this.metadataMirror = new Map();
    this.revision = 0;
    const rows = this.sql.exec<{ key: string; value: string | null; revision: number }>(
      `SELECT key, CASE WHEN length(CAST(value AS BLOB)) <= ? THEN value END AS value, revision FROM metadata`,
      MIRRORED_VALUE_MAX_UNITS,
    );
    for (const row of rows) {
      this.mirrorValue(row.key, row.value);
      this.revision = Math.max(this.revision, row.revision);
    }
    const last = this.sql.exec("SELECT seq, created_at FROM messages ORDER BY seq DESC LIMIT 1").toArray()[0];
    this.lastSeq = (last?.seq as number) ?? 0;
    this.lastMessageAt = (last?.created_at as string) ?? null;
  }

  private exec<T extends Record<string, SqlStorageValue>>(cost: Cost, query: string, ...params: unknown[]): T[] {
    const cursor = this.sql.exec<T>(query, ...params);
    const rows = cursor.toArray();
    cost.doRowsRead += cursor.rowsRead;
    cost.doRowsWritten += cursor.rowsWritten;
    return rows;
  }

  private mirrorValue(key: string, value: string | null): void {
    this.metadataMirror.set(key, value !== null && value.length <= MIRRORED_VALUE_MAX_UNITS ? value : null);
  }

  private store(cost: Cost, now: string): MetadataStore {
    return {
      compare: (key, value) => {
        if (!this.metadataMirror.has(key)) return "absent";
        const mirrored = this.metadataMirror.get(key);
        if (mirrored != null) return mirrored === value ? "same" : "different";
        const row = this.exec<{ same: number }>(cost, "SELECT value = ? AS same FROM metadata WHERE key = ?", value, key)[0];
        return row?.same ? "same" : "different";
      },
      pairCount: () => this.metadataMirror.size,
      upsert: (key, value) => {
        this.exec(
          cost,
          "INSERT INTO metadata (key, value, updated_at, revision) VALUES (?, ?, ?, ?) " +
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, revision = excluded.revision",
          key,
          value,
          now,
          ++this.revision,
        );
        this.mirrorValue(key, value);
      },
    };
  }

  /**
   * Runs `apply` as one SQLite transaction. The in-memory counters move inside it, so
   * if it throws (and storage rolls back) they are read again from storage.
   */
  private atomically<T>(apply: () => T): T {
    try {
      return this.ctx.storage.transactionSync(apply);
    } catch (error) {
      this.load();
      throw error;
    }
  }

  private requireInfo(): ConversationInfo {
    if (!this.info) throw new Error("conversation not started");
    return this.info;
  }

  /** Creates the conversation: its participant and index row in D1, its metadata here. */
  async start(input: StartInput): Promise<StartResult> {
    if (this.info) throw new Error("conversation already started");
    const cost = newCost();
    const now = nowIso();
    const outcome = this.atomically(() =>
      applyMetadata(this.store(cost, now), Object.entries(input.data), WIDGET_KEY_PREFIX),
    );
    const customer: CustomerRecord = {
      name: outcome.customer.name ?? null,
      email: outcome.customer.email ?? null,
      phone: outcome.customer.phone ?? null,
      timezone: input.timezone,
    };
    const db = this.env.DB;
    const [participant, conversation] = await db.batch<{ id: string }>([
      upsertWebParticipant(db, { id: newId("part"), teamId: input.teamId, chatbotId: input.chatbotId, visitorId: input.visitorId, customer, now }),
      insertWebConversation(db, { id: input.conversationId, teamId: input.teamId, chatbotId: input.chatbotId, visitorId: input.visitorId, startedAt: now }),
    ]);
    tallyD1(cost, participant!);
    tallyD1(cost, conversation!);
    const info: ConversationInfo = {
      conversation_id: input.conversationId,
      team_id: input.teamId,
      chatbot_id: input.chatbotId,
      channel: "web",
      participant_id: participant!.results[0]!.id,
      started_at: now,
    };
    this.exec(
      cost,
      `INSERT INTO conversation (singleton, conversation_id, team_id, chatbot_id, channel, participant_id, started_at,
         synced_name, synced_email, synced_phone, synced_timezone) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      info.conversation_id, info.team_id, info.chatbot_id, info.channel, info.participant_id, info.started_at,
      customer.name, customer.email, customer.phone, customer.timezone,
    );
    this.info = info;
    this.synced = customer;
    await this.scheduleFlush();
    return { info, metadata: answer(outcome, input.warnings), cost };
  }

  /** Stores a visitor message and its metadata in one step (rules 1 to 7). */
  async postMessage(input: MessageInput): Promise<MessageResult> {
    this.requireInfo();
    const cost = newCost();
    const now = nowIso();
    const { message, reply, metadata, change } = this.atomically(() => {
      const outcome = applyMetadata(this.store(cost, now), Object.entries(input.data), WIDGET_KEY_PREFIX);
      const change = this.customerChange({ ...outcome.customer, ...(input.timezone ? { timezone: input.timezone } : {}) });
      if (change) this.recordSynced(cost, change);
      const metadata = answer(outcome, input.warnings);
      const replyText = summaryReply(input.data, metadata, this.synced, this.metadataMirror.size);
      const [message, reply] = this.insertMessages(cost, now, [
        ["visitor", input.text],
        ["bot", replyText],
      ]) as [Message, Message];
      return { message, reply, metadata, change };
    });
    await this.scheduleFlush();
    if (change) tallyD1(cost, await this.writeCustomer(change));
    return { json: JSON.stringify({ message, reply, metadata }), cost };
  }

  /** Appends messages in one statement (a visitor message and its reply are one write). */
  private insertMessages(cost: Cost, now: string, messages: [Message["role"], string][]): Message[] {
    const rows = messages.map(([role, text]): Message => ({ id: newId("msg"), role, text, created_at: now }));
    const params = rows.flatMap((row) => [++this.lastSeq, row.id, row.role, row.text, row.created_at]);
    this.exec(cost, `INSERT INTO messages (seq, id, role, text, created_at) VALUES ${rows.map(() => "(?, ?, ?, ?, ?)").join(", ")}`, ...params);
    this.lastMessageAt = now;
    return rows;
  }

  /** The customer fields that differ from what this conversation last wrote to D1. */
  private customerChange(candidate: CustomerChange): CustomerChange | null {
    const change: CustomerChange = {};
    for (const field of ["name", "email", "phone", "timezone"] as const) {
      const value = candidate[field];
      if (value !== undefined && value !== this.synced[field]) change[field] = value;
    }
    return Object.keys(change).length ? change : null;
  }

  private recordSynced(cost: Cost, change: CustomerChange): void {
    this.synced = { ...this.synced, ...change };
    this.exec(
      cost,
      "UPDATE conversation SET synced_name = ?, synced_email = ?, synced_phone = ?, synced_timezone = ?",
      this.synced.name, this.synced.email, this.synced.phone, this.synced.timezone,
    );
  }

  /**
   * Writes changed customer fields through to the participant, after every write
   * applied before it, and resolves once D1 has it: a read made after the answer
   * sees the new values. Only the changed columns are written, so fields set
   * elsewhere (API, dashboard) are not overwritten with stale ones.
   */
  private writeCustomer(change: CustomerChange): Promise<D1Result> {
    const { participant_id } = this.requireInfo();
    const statement = updateCustomerFields(this.env.DB, { participantId: participant_id }, change, nowIso());
    const write = this.customerWrites.then(() => statement.run());
    this.customerWrites = write.catch(() => undefined);
    return write;
  }

  private async scheduleFlush(): Promise<void> {
    if (this.alarmPending) return;
    this.alarmPending = true;
    await this.ctx.storage.setAlarm(Date.now() + FLUSH_DELAY_MS);
  }

  /** Copies counters and changed metadata to the D1 projection used for listing and analytics. */
  override async alarm(): Promise<void> {
    this.alarmPending = false;
    const info = this.info;
    if (!info) return;
    const cost = newCost();
    const target = { revision: this.revision, seq: this.lastSeq };
    const changed = this.exec<{ key: string; value: string; updated_at: string }>(
      cost,
      "SELECT key, value, updated_at FROM metadata WHERE revision > ? AND revision <= ?",
      this.flushed.revision,
      target.revision,
    );
    const db = this.env.DB;
    const statements: D1PreparedStatement[] = [];
    if (target.seq !== this.flushed.seq) {
      statements.push(updateConversationCounters(db, { id: info.conversation_id, messageCount: target.seq, lastMessageAt: this.lastMessageAt }));
    }
    for (const row of changed) {
      statements.push(
        upsertProjectedMetadata(db, {
          conversationId: info.conversation_id,
          chatbotId: info.chatbot_id,
          key: row.key,
          value: row.value,
          updatedAt: row.updated_at,
        }),
      );
    }
    const writes = (async () => {
      for (let i = 0; i < statements.length; i += D1_BATCH_SIZE) await db.batch(statements.slice(i, i + D1_BATCH_SIZE));
    })();
    this.projectionWrites = writes.catch(() => undefined);
    await writes;
    this.flushed = target;
    this.exec(cost, "UPDATE conversation SET flushed_revision = ?, flushed_seq = ?", target.revision, target.seq);
    // Writes that arrived while D1 was being written go out with the next alarm.
    if (this.revision !== target.revision || this.lastSeq !== target.seq) await this.scheduleFlush();
  }

  snapshot(): Snapshot {
    const info = this.requireInfo();
    const rows = this.sql.exec<{ key: string; value: string }>("SELECT key, value FROM metadata ORDER BY key").toArray();
    return {
      info,
      metadata: Object.fromEntries(rows.map((row) => [row.key, row.value])),
      message_count: this.lastSeq,
      last_message_at: this.lastMessageAt,
    };
  }

  readMetadata(): Record<string, string> {
    return this.snapshot().metadata;
  }

  readMetadataKey(key: string): MetadataEntry | null {
    this.requireInfo();
    return this.sql.exec<MetadataEntry>("SELECT key, value, updated_at FROM metadata WHERE key = ?", key).toArray()[0] ?? null;
  }

  /** An API write of one key, under the same rules as the widget's. */
  async putMetadata(key: string, value: string): Promise<PutMetadataResult> {
    this.requireInfo();
    const cost = newCost();
    const now = nowIso();
    const { outcome, existed, change } = this.atomically(() => {
      const existed = this.metadataMirror.has(key);
      const outcome = applyMetadata(this.store(cost, now), [[key, value]], "");
      const change = this.customerChange(outcome.customer);
      if (change) this.recordSynced(cost, change);
      return { outcome, existed, change };
    });
    const rejection = outcome.rejected[0];
    if (rejection) return { ok: false, reason: rejection.reason };
    await this.scheduleFlush();
    if (change) await this.writeCustomer(change);
    return { ok: true, created: !existed, entry: this.readMetadataKey(key)!, warnings: outcome.warnings };
  }

  /** Deletes a key here and in the D1 projection at once. */
  async deleteMetadata(key: string): Promise<boolean> {
    const info = this.requireInfo();
    const cursor = this.sql.exec("DELETE FROM metadata WHERE key = ?", key);
    cursor.toArray();
    const deleted = cursor.rowsWritten > 0;
    if (!deleted) return false;
    this.metadataMirror.delete(key);
    // A flush under way may still be copying this key to D1; deleting before it lands
    // would leave the key in the projection for good.
    await this.projectionWrites;
    await deleteProjectedMetadata(this.env.DB, info.conversation_id, key).run();
    return true;
  }

  /** Messages oldest first, `limit` at a time after the message with id `after`. */
  listMessages(options: MessagesPage): MessagePage {
    this.requireInfo();
    let afterSeq = 0;
    if (options.after) {
      const row = this.sql.exec<{ seq: number }>("SELECT seq FROM messages WHERE id = ?", options.after).toArray()[0];
      afterSeq = row?.seq ?? Number.MAX_SAFE_INTEGER;
    }
    const rows = this.sql
      .exec<Message & { seq: number }>("SELECT seq, id, role, text, created_at FROM messages WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, options.limit + 1)
      .toArray();
    const page = rows.slice(0, options.limit).map(({ seq: _seq, ...message }) => message);
    return { messages: page, next_cursor: rows.length > options.limit ? page[page.length - 1]!.id : null };
  }
}

function answer(outcome: MetadataOutcome, extraWarnings: Warning[]): MetadataAnswer {
  return { accepted: outcome.accepted, rejected: outcome.rejected, warnings: [...outcome.warnings, ...extraWarnings] };
}
