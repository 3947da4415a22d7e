import { DurableObject } from "cloudflare:workers";
import { type CustomerRecord, updateCustomerFields, upsertWebParticipant } from "../participants/storage";
import { type Cost, newCost, tallyD1 } from "../shared/cost";
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
import { ObjectStorage } from "./object-storage";
import { deleteProjectedMetadata, insertWebConversation, updateConversationCounters, upsertProjectedMetadata } from "./storage";
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
 * serialized and the 200-pair cap holds. D1 sees customer fields at once (awaited
 * before answering) and the rest through a debounced alarm.
 */
export class ConversationObject extends DurableObject<Env> {
  private readonly storage: ObjectStorage;
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
    migrateObjectSchema(ctx.storage);
    this.storage = new ObjectStorage(ctx.storage.sql);
    this.load();
    ctx.blockConcurrencyWhile(async () => {
      this.alarmPending = (await ctx.storage.getAlarm()) !== null;
    });
  }

  private load(): void {
    const state = this.storage.readConversation();
    if (state) {
      this.info = state.info;
      this.synced = state.synced;
      this.flushed = state.flushed;
    }
    this.metadataMirror = new Map();
    this.revision = 0;
    for (const row of this.storage.readMetadataIndex(MIRRORED_VALUE_MAX_UNITS)) {
      this.mirrorValue(row.key, row.value);
      this.revision = Math.max(this.revision, row.revision);
    }
    const last = this.storage.readLastMessage();
    this.lastSeq = last?.seq ?? 0;
    this.lastMessageAt = last?.created_at ?? null;
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
        return this.storage.valueEquals(cost, key, value) ? "same" : "different";
      },
      pairCount: () => this.metadataMirror.size,
      upsert: (key, value) => {
        this.storage.upsertMetadata(cost, key, value, now, ++this.revision);
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
    const outcome = this.atomically(() => applyMetadata(this.store(cost, now), Object.entries(input.data), WIDGET_KEY_PREFIX));
    const customer: CustomerRecord = {
      name: outcome.customer.name ?? null,
      email: outcome.customer.email ?? null,
      phone: outcome.customer.phone ?? null,
      timezone: input.timezone,
    };
    const db = this.env.DB;
    const [participant, conversation] = await db.batch<{ id: string }>([
      upsertWebParticipant(db, {
        id: newId("part"),
        teamId: input.teamId,
        chatbotId: input.chatbotId,
        visitorId: input.visitorId,
        customer,
        now,
      }),
      insertWebConversation(db, {
        id: input.conversationId,
        teamId: input.teamId,
        chatbotId: input.chatbotId,
        visitorId: input.visitorId,
        startedAt: now,
      }),
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
    this.storage.insertConversation(cost, info, customer);
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
    const rows = messages.map(([role, text]) => ({ seq: ++this.lastSeq, id: newId("msg"), role, text, created_at: now }));
    this.storage.insertMessages(cost, rows);
    this.lastMessageAt = now;
    return rows.map(({ seq: _seq, ...message }) => message);
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
    this.storage.writeSynced(cost, this.synced);
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
    const changed = this.storage.readMetadataChanges(cost, this.flushed.revision, target.revision);
    const db = this.env.DB;
    const statements: D1PreparedStatement[] = [];
    if (target.seq !== this.flushed.seq) {
      statements.push(
        updateConversationCounters(db, { id: info.conversation_id, messageCount: target.seq, lastMessageAt: this.lastMessageAt }),
      );
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
    this.storage.writeFlushed(cost, target);
    // Writes that arrived while D1 was being written go out with the next alarm.
    if (this.revision !== target.revision || this.lastSeq !== target.seq) await this.scheduleFlush();
  }

  snapshot(): Snapshot {
    const info = this.requireInfo();
    return {
      info,
      metadata: this.storage.readAllMetadata(),
      message_count: this.lastSeq,
      last_message_at: this.lastMessageAt,
    };
  }

  readMetadata(): Record<string, string> {
    return this.snapshot().metadata;
  }

  readMetadataKey(key: string): MetadataEntry | null {
    this.requireInfo();
    return this.storage.readMetadataEntry(key);
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
    if (!this.storage.deleteMetadata(key)) return false;
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
    // An unknown `after` is past the end: an empty page, not the first one.
    const afterSeq = options.after ? (this.storage.findMessageSeq(options.after) ?? Number.MAX_SAFE_INTEGER) : 0;
    const rows = this.storage.readMessagesAfter(afterSeq, options.limit + 1);
    const page = rows.slice(0, options.limit);
    return { messages: page, next_cursor: rows.length > options.limit ? page[page.length - 1]!.id : null };
  }
}

function answer(outcome: MetadataOutcome, extraWarnings: Warning[]): MetadataAnswer {
  return { accepted: outcome.accepted, rejected: outcome.rejected, warnings: [...outcome.warnings, ...extraWarnings] };
}
