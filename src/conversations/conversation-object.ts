import { DurableObject } from "cloudflare:workers";
import { runActionById } from "../actions/run";
import { writeParticipantData } from "../participants/data-writes";
import { type JsonObject, mergePatch } from "../participants/json-data";
import { type CustomerRecord, updateCustomerFields, upsertWebParticipant } from "../participants/storage";
import { type Cost, newCost, tallyD1 } from "../shared/cost";
import { newId } from "../shared/ids";
import { WIDGET_KEY_PREFIX } from "../shared/key-prefixes";
import { ProblemError } from "../shared/problem";
import { nowIso } from "../shared/time";
import type { Trigger, TriggerAction, TriggerEvent, TriggerFiring } from "../triggers/model";
import { findTrigger } from "../triggers/storage";
import { type DomainEvent, type EventType, newEventId, participantEvent } from "../webhooks/events";
import { publishEvents } from "../webhooks/publish";
import { mayHaveSubscriptions } from "../webhooks/storage";
import { applyMetadata, type MetadataOutcome, type MetadataStore, type Warning } from "./metadata-rules";
import type {
  ConversationInfo,
  ConversationState,
  LiveAudience,
  LiveEvent,
  Message,
  MessageInput,
  MessagePage,
  MessageResult,
  MessagesPage,
  MetadataAnswer,
  MetadataEntry,
  PutMetadataResult,
  Snapshot,
  StaffMessageInput,
  StaffMessageResult,
  StartInput,
  StartResult,
  StatePatch,
  VerifiedIdentity,
} from "./model";
import { migrateObjectSchema } from "./object-schema";
import { isDuplicateClientMessage, ObjectStorage, type StoredMessage } from "./object-storage";
import {
  deleteProjectedMetadata,
  insertWebConversation,
  moveWebConversation,
  updateConversationCounters,
  updateConversationState,
  upsertProjectedMetadata,
} from "./storage";
import { summaryReply } from "./summary-reply";

/** At most this many firings are listed by GET /v1/conversations/:id/events. */
const EVENTS_LISTED_MAX = 500;
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
const CUSTOMER_FIELDS = ["name", "email", "phone", "timezone"] as const;
/** A failed customer write-through is retried from the alarm after this, doubling to the cap. */
const CUSTOMER_RETRY_MS = { first: 1_000, max: 60_000 };

/**
 * The storage layer refused a write that had to land before the answer (D1 down or
 * overloaded); nothing of the request was stored here. The route answers 503.
 */
export const STORAGE_UNAVAILABLE = "storage-unavailable";
/** A visitor message to an ended conversation: the route answers 409 `conversation-ended`. */
export const CONVERSATION_ENDED = "conversation-ended";

/**
 * One per conversation: the only writer of its messages and metadata. Each message
 * is applied in one synchronous SQLite transaction, so concurrent messages are
 * serialized and the 200-pair cap holds. D1 sees customer fields at once (awaited
 * before answering; on failure kept in an outbox the alarm retries) and the rest
 * through a debounced alarm.
 */
export class ConversationObject extends DurableObject<Env> {
  private readonly storage: ObjectStorage;
  private info: ConversationInfo | null = null;
  private synced: CustomerRecord = { name: null, email: null, phone: null, timezone: null };
  /** Customer fields applied here that D1 has not confirmed: the outbox. */
  private pending: CustomerChange = {};
  private customerRetryMs = CUSTOMER_RETRY_MS.first;
  private state: ConversationState = { status: "open", outcome: null, ended_at: null };
  /** The verified identity of the conversation's participant, or null (anonymous). */
  private identity: VerifiedIdentity | null = null;
  /** Every stored key, with its value where small enough to mirror (else null). */
  private metadataMirror = new Map<string, string | null>();
  private revision = 0;
  private lastSeq = 0;
  private lastMessageAt: string | null = null;
  private flushed = { revision: 0, seq: 0 };
  /** When the alarm is set for (ms), or null: one alarm serves the flush and the outbox. */
  private alarmAt: number | null = null;
  /** D1 customer writes, chained so they land in the order they were applied. */
  private customerWrites: Promise<unknown> = Promise.resolve();
  /** The alarm's projection writes while in flight: a delete must reach D1 after them. */
  private projectionWrites: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrateObjectSchema(ctx.storage);
    this.storage = new ObjectStorage(ctx.storage.sql);
    this.load();
    // Keep-alive pings are answered by the runtime without waking a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  private load(): void {
    const state = this.storage.readConversation();
    if (state) {
      this.info = state.info;
      this.synced = state.synced;
      this.pending = state.pending;
      this.identity = state.identity;
      this.flushed = state.flushed;
      this.state = state.state;
    }
    this.metadataMirror = new Map();
    // Never below what the projection has: a key written after the newest one was
    // deleted must still get a revision the next flush copies.
    this.revision = this.flushed.revision;
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

  /** How a stored key's value compares with `value`: from the mirror, else in SQL. */
  private compareStored(cost: Cost, key: string, value: string): "absent" | "same" | "different" {
    if (!this.metadataMirror.has(key)) return "absent";
    const mirrored = this.metadataMirror.get(key);
    if (mirrored != null) return mirrored === value ? "same" : "different";
    return this.storage.valueEquals(cost, key, value) ? "same" : "different";
  }

  /** Writes one pair (its row, the mirror, the next revision); `changes` collects it for live sockets. */
  private writeMetadata(cost: Cost, key: string, value: string, now: string, changes?: Record<string, string>): void {
    this.storage.upsertMetadata(cost, key, value, now, ++this.revision);
    this.mirrorValue(key, value);
    if (changes) changes[key] = value;
  }

  /** The rules' view of this object's metadata; `changes` collects what was written, for live sockets. */
  private store(cost: Cost, now: string, changes?: Record<string, string>): MetadataStore {
    return {
      compare: (key, value) => this.compareStored(cost, key, value),
      pairCount: () => this.metadataMirror.size,
      upsert: (key, value) => this.writeMetadata(cost, key, value, now, changes),
    };
  }

  /**
   * The rules' view of this object's metadata with the writes planned, not made: they go
   * to `planned`, in order, for the caller to write once it knows the message is new.
   */
  private plannedStore(cost: Cost, planned: [string, string][]): MetadataStore {
    const latest = new Map<string, string>();
    let added = 0;
    return {
      compare: (key, value) => {
        const next = latest.get(key);
        if (next !== undefined) return next === value ? "same" : "different";
        return this.compareStored(cost, key, value);
      },
      pairCount: () => this.metadataMirror.size + added,
      upsert: (key, value) => {
        if (!latest.has(key) && !this.metadataMirror.has(key)) added++;
        latest.set(key, value);
        planned.push([key, value]);
      },
    };
  }

  /**
   * Runs `apply` as one SQLite transaction. The in-memory state moves inside it, so
   * if it throws (and storage rolls back) it is read again from storage.
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

  /**
   * Creates the conversation: its participant and index row in D1 first, then its
   * metadata here. If D1 refuses, nothing is stored here either.
   */
  async start(input: StartInput): Promise<StartResult> {
    if (this.info) throw new Error("conversation already started");
    const cost = newCost();
    const now = nowIso();
    const entries = Object.entries(input.data);
    // The rules are pure over a store: a fresh object's store is empty, so a dry run
    // tells the customer fields the participant is created with.
    const preview = applyMetadata(emptyStore(), entries, WIDGET_KEY_PREFIX);
    const policy = customerPolicy(preview, input.timezone, input.identity, input.identityRequired);
    const customer: CustomerRecord = { name: null, email: null, phone: null, timezone: null, ...policy.change };
    const identifier = input.identity?.sub ?? input.visitorIdentifier;
    const db = this.env.DB;
    let participant: D1Result<{ id: string; created: number }>;
    let conversation: D1Result;
    try {
      [participant, conversation] = (await db.batch([
        upsertWebParticipant(db, {
          id: newId("part"),
          teamId: input.teamId,
          chatbotId: input.chatbotId,
          identifier,
          verified: input.identity !== null,
          customer,
          now,
        }),
        insertWebConversation(db, {
          id: input.conversationId,
          teamId: input.teamId,
          chatbotId: input.chatbotId,
          identifier,
          startedAt: now,
        }),
      ])) as [D1Result<{ id: string; created: number }>, D1Result];
    } catch (error) {
      console.error("conversation start: D1 refused", error);
      throw new Error(STORAGE_UNAVAILABLE);
    }
    tallyD1(cost, participant);
    tallyD1(cost, conversation);
    const info: ConversationInfo = {
      conversation_id: input.conversationId,
      team_id: input.teamId,
      chatbot_id: input.chatbotId,
      channel: "web",
      participant_id: participant.results[0]!.id,
      started_at: now,
    };
    const outcome = this.atomically(() => {
      const outcome = applyMetadata(this.store(cost, now), entries, WIDGET_KEY_PREFIX);
      this.storage.insertConversation(cost, info, customer, input.identity);
      return outcome;
    });
    this.info = info;
    this.synced = customer;
    this.identity = input.identity;
    await this.scheduleAlarm(FLUSH_DELAY_MS);
    const created = participant.results[0]!.created === 1;
    this.publish(() => [
      ...(created ? [this.participantCreated(identifier, customer, input.identity !== null, now)] : []),
      this.event("conversation.started", { started_at: now, metadata: changesOf(outcome, entries) }),
    ]);
    await this.fire("conversation_started", input.triggers);
    return { info, metadata: answer(outcome, [...policy.warnings, ...input.warnings]), cost };
  }

  /**
   * Stores a visitor message and its metadata in one step (rules 1 to 7). With a
   * `clientMessageId` seen before, stores nothing and answers as the first time.
   */
  async postMessage(input: MessageInput): Promise<MessageResult> {
    this.requireInfo();
    const cost = newCost();
    const ended = this.state.status === "ended";
    const moving = !!input.identity && input.identity.sub !== this.identity?.sub;
    // A stored client_message_id is looked up first only where something would happen
    // before the message's transaction (the 409 of an ended conversation, a move to a
    // verified participant). Otherwise the id's unique index finds it: the message row is
    // inserted before anything else is written, so a stored id fails that insert with
    // nothing changed, and the first answer is replayed below. A new message, the common
    // case, so costs no lookup statement.
    const lookedUp = Boolean(input.clientMessageId) && (ended || moving);
    if (lookedUp) {
      const replay = this.storage.findAnswer(cost, input.clientMessageId!);
      if (replay) return { json: replay, cost, replayed: true };
    }
    // An ended conversation takes no visitor message: the widget starts a new one with it.
    if (ended) throw new Error(CONVERSATION_ENDED);
    if (moving) await this.moveToVerified(input.identity!, input.timezone, cost);
    const now = nowIso();
    const changes: Record<string, string> = {};
    type Applied = { json: string; change: CustomerChange | null; customerKeys: Record<string, string>; stored: Message[] };
    let duplicate: unknown = null;
    const applied = this.atomically((): Applied | null => {
      // Everything is worked out first and written only once the message row is in:
      // a client_message_id stored already fails that insert before anything changed.
      const planned: [string, string][] = [];
      const store = this.plannedStore(cost, planned);
      const outcome = applyMetadata(store, Object.entries(input.data), WIDGET_KEY_PREFIX);
      const policy = customerPolicy(outcome, input.timezone, this.identity, input.identityRequired);
      const change = this.customerChange(policy.change);
      const metadata = answer(outcome, [...policy.warnings, ...input.warnings]);
      const texts: [Message["role"], string][] = [["visitor", input.text]];
      if (input.standInReply) {
        // As they will be once written: the customer fields with this change, the keys with the new ones.
        const synced = change ? { ...this.synced, ...change } : this.synced;
        texts.push(["bot", summaryReply(input.data, metadata, synced, store.pairCount())]);
      }
      const [message, reply] = this.newMessages(now, texts) as [StoredMessage, StoredMessage | undefined];
      const json = JSON.stringify({ message: bare(message), ...(reply ? { reply: bare(reply) } : {}), metadata });
      const rows: StoredMessage[] = [{ ...message, client_message_id: input.clientMessageId, answer: input.clientMessageId ? json : null }];
      if (reply) rows.push(reply);
      try {
        this.storage.insertMessages(cost, rows);
      } catch (error) {
        // Nothing was written yet: nothing to roll back or to read again.
        if (!input.clientMessageId || !isDuplicateClientMessage(error)) throw error;
        duplicate = error;
        return null;
      }
      this.lastSeq = rows[rows.length - 1]!.seq;
      for (const [key, value] of planned) this.writeMetadata(cost, key, value, now, changes);
      if (change) this.recordSynced(cost, change);
      this.lastMessageAt = now;
      return { json, change, customerKeys: { ...outcome.customerKeys, timezone: "timezone" }, stored: rows.map(bare) };
    });
    if (!applied) {
      // The client_message_id is stored already (a retry, or a concurrent duplicate that
      // committed first, e.g. while this one waited on a move): nothing of this attempt
      // was written; answer as the first time. A retry costs that lookup alone.
      const replayCost = lookedUp ? cost : newCost();
      const first = this.storage.findAnswer(replayCost, input.clientMessageId!);
      if (first) return { json: first, cost: replayCost, replayed: true };
      throw duplicate;
    }
    // Awaited only where there is something to wait for: each await is a turn of the
    // microtask queue on the message's path.
    const alarm = this.scheduleAlarm(FLUSH_DELAY_MS);
    if (alarm) await alarm;
    const changed = Object.keys(changes).length > 0;
    for (const message of applied.stored) this.broadcast({ type: "message", message });
    if (changed) this.broadcast({ type: "metadata", metadata: changes }, "staff");
    this.publish(() => [
      ...applied.stored.map((message) => this.event("message.created", { message })),
      ...(changed ? [this.event("conversation.metadata.updated", { changes })] : []),
    ]);
    if (input.triggers.length > 0) {
      await this.armInactivity(input.triggers, cost);
      await this.fire("message_received", input.triggers);
    }
    if (!applied.change) return { json: applied.json, cost, replayed: false };
    try {
      tallyD1(cost, await this.writeCustomer(applied.change));
      return { json: applied.json, cost, replayed: false };
    } catch (error) {
      // Stored here, not yet in D1: the outbox keeps it and the alarm retries. The answer
      // says so, and a replay of this message says the same.
      console.error("customer write-through failed; kept for retry", error);
      await this.scheduleAlarm(this.customerRetryMs);
      const body = JSON.parse(applied.json) as { metadata: MetadataAnswer };
      for (const field of Object.keys(applied.change)) {
        body.metadata.warnings.push({ key: applied.customerKeys[field] ?? field, reason: "customer_update_pending" });
      }
      const json = JSON.stringify(body);
      if (input.clientMessageId) this.storage.writeAnswer(cost, input.clientMessageId, json);
      return { json, cost, replayed: false };
    }
  }

  /**
   * A valid identity token names another participant: the conversation moves to it
   * (created where missing, marked verified, its claims written to the customer record).
   * The participant left behind keeps what it had.
   */
  private async moveToVerified(identity: VerifiedIdentity, timezone: string | null, cost: Cost): Promise<void> {
    const info = this.requireInfo();
    // What the old participant still owes D1 goes first: it must not be lost in the move.
    if (Object.keys(this.pending).length > 0) await this.writeCustomer({ ...this.pending });
    const customer: CustomerRecord = { name: null, email: null, phone: null, timezone, ...identity.claims };
    const db = this.env.DB;
    let participant: D1Result<{ id: string }>;
    try {
      [participant] = (await db.batch([
        upsertWebParticipant(db, {
          id: newId("part"),
          teamId: info.team_id,
          chatbotId: info.chatbot_id,
          identifier: identity.sub,
          verified: true,
          customer,
          now: nowIso(),
        }),
        moveWebConversation(db, { id: info.conversation_id, chatbotId: info.chatbot_id, identifier: identity.sub }),
      ])) as [D1Result<{ id: string }>];
    } catch (error) {
      console.error("identity move: D1 refused", error);
      throw new Error(STORAGE_UNAVAILABLE);
    }
    tallyD1(cost, participant);
    const participantId = participant.results[0]!.id;
    this.atomically(() => this.storage.writeParticipant(cost, participantId, identity, customer));
    this.info = { ...info, participant_id: participantId };
    this.identity = identity;
    this.synced = customer;
    this.pending = {};
  }

  /**
   * A message from the team's side (its bot, or an agent), stored as is. With a
   * `clientMessageId` seen before, stores nothing and answers the first message.
   */
  async postStaffMessage(input: StaffMessageInput): Promise<StaffMessageResult> {
    this.requireInfo();
    const cost = newCost();
    const replayed = (): StaffMessageResult | null => {
      const first = input.clientMessageId ? this.storage.findAnswer(cost, input.clientMessageId) : null;
      return first ? { message: JSON.parse(first) as Message, replayed: true } : null;
    };
    const replay = replayed();
    if (replay) return replay;
    const now = nowIso();
    let message: Message;
    try {
      message = this.atomically(() => {
        const [row] = this.newMessages(now, [[input.role, input.text]]) as [StoredMessage];
        const answer = bare(row);
        this.storage.insertMessages(cost, [
          { ...row, client_message_id: input.clientMessageId, answer: input.clientMessageId ? JSON.stringify(answer) : null },
        ]);
        this.lastSeq = row.seq;
        this.lastMessageAt = now;
        return answer;
      });
    } catch (error) {
      const again = input.clientMessageId && isDuplicateClientMessage(error) ? replayed() : null;
      if (again) return again;
      throw error;
    }
    await this.scheduleAlarm(FLUSH_DELAY_MS);
    this.broadcast({ type: "message", message });
    this.publish(() => [this.event("message.created", { message })]);
    return { message, replayed: false };
  }

  /** Ends or reopens the conversation, or labels its outcome; written through to the D1 index at once. */
  async setState(patch: StatePatch, triggers: Trigger[] = []): Promise<ConversationState> {
    const info = this.requireInfo();
    const ending = patch.status === "ended" && this.state.status !== "ended";
    const status = patch.status ?? this.state.status;
    const next: ConversationState = {
      status,
      outcome: patch.outcome === undefined ? this.state.outcome : patch.outcome,
      ended_at: status === "ended" ? (this.state.ended_at ?? nowIso()) : null,
    };
    const cost = newCost();
    this.atomically(() => {
      this.storage.writeState(cost, next);
      // An ended conversation does not go quiet: its inactivity timers are spent.
      if (ending) this.storage.disarmTimers(cost);
    });
    this.state = next;
    this.broadcast({ type: "state", state: next }, "staff");
    await updateConversationState(this.env.DB, {
      id: info.conversation_id,
      status: next.status,
      outcome: next.outcome,
      endedAt: next.ended_at,
    }).run();
    if (ending) {
      this.publish(() => [this.event("conversation.ended", { outcome: next.outcome, ended_at: next.ended_at })]);
      await this.fire("conversation_ended", triggers);
    }
    return next;
  }

  // ---- webhook events ----------------------------------------------------------------

  /** A webhook event about this conversation, made once where it happens (its id is stable). */
  private event(type: EventType, data: Record<string, unknown>): DomainEvent {
    const info = this.requireInfo();
    return {
      id: newEventId(),
      type,
      teamId: info.team_id,
      chatbotId: info.chatbot_id,
      timestamp: nowIso(),
      data: { conversation_id: info.conversation_id, chatbot_id: info.chatbot_id, participant_id: info.participant_id, ...data },
    };
  }

  /**
   * Hands events to the webhooks after the answer (the write already happened). Where D1
   * or the queue refuses, the events are kept here and the alarm publishes them again:
   * deliveries have ids derived from the event's, so a second publish never doubles one.
   */
  private publish(make: () => DomainEvent[]): void {
    // Most teams have no webhook: once this isolate knows that, events are not even built.
    if (!this.info || !mayHaveSubscriptions(this.info.team_id)) return;
    const events = make();
    if (events.length === 0) return;
    this.ctx.waitUntil(
      publishEvents(this.env, events).catch(async (error) => {
        console.error("publishing webhook events failed; kept for the alarm", error);
        this.storage.keepEvents(events);
        await this.scheduleAlarm(CUSTOMER_RETRY_MS.first);
      }),
    );
  }

  private async republishKeptEvents(): Promise<void> {
    const kept = this.storage.keptEvents(100);
    if (kept.length === 0) return;
    try {
      await publishEvents(this.env, kept);
      this.storage.dropEvents(kept.map((event) => event.id));
    } catch (error) {
      console.error("publishing kept webhook events failed again", error);
      await this.scheduleAlarm(CUSTOMER_RETRY_MS.max);
    }
  }

  /** `participant.created` for the web participant this conversation just made, as the API shows it. */
  private participantCreated(identifier: string, customer: CustomerRecord, verified: boolean, now: string): DomainEvent {
    const info = this.requireInfo();
    return participantEvent("participant.created", info.team_id, {
      id: info.participant_id,
      chatbot_id: info.chatbot_id,
      channel: "web",
      identifier,
      ...customer,
      data: {},
      version: 1,
      verified,
      created_at: now,
      updated_at: now,
    });
  }

  /** When the visitor last wrote, as an inactivity timer due at `dueAt` knows it. */
  private lastVisitorAt(dueAt: number, trigger: Trigger): string {
    return new Date(dueAt - (trigger.delay_seconds ?? 0) * 1000).toISOString();
  }

  // ---- triggers ----------------------------------------------------------------------

  /** What fired in this conversation, oldest first. */
  listEvents(): TriggerFiring[] {
    this.requireInfo();
    return this.storage.readFirings(EVENTS_LISTED_MAX);
  }

  /** Fires every trigger on `event` that has fires left here, in order. */
  private async fire(event: Exclude<TriggerEvent, "conversation_inactive">, triggers: Trigger[]): Promise<void> {
    for (const trigger of triggers) {
      if (trigger.on === event && this.storage.triggerFires(trigger.id) < trigger.max_fires) await this.run(trigger, null, triggers);
    }
  }

  /** A visitor message (re-)arms each inactivity trigger with fires left: due after its delay of quiet. */
  private async armInactivity(triggers: Trigger[], cost: Cost): Promise<void> {
    const inactivity = triggers.filter((t) => t.on === "conversation_inactive" && this.storage.triggerFires(t.id) < t.max_fires);
    if (inactivity.length === 0) return;
    const now = Date.now();
    this.atomically(() => {
      for (const trigger of inactivity) this.storage.armTimer(cost, trigger, now + (trigger.delay_seconds ?? 0) * 1000);
    });
    await this.scheduleAlarm(Math.min(...inactivity.map((t) => (t.delay_seconds ?? 0) * 1000)));
  }

  /** Runs a trigger's action and records the firing; a refusal is a `failed` event, never a crash. */
  private async run(trigger: Trigger, dueAt: number | null, triggers: Trigger[]): Promise<void> {
    const info = this.requireInfo();
    let status: TriggerFiring["status"] = "ok";
    let detail: string;
    try {
      detail = await this.perform(trigger.action, info, triggers);
    } catch (error) {
      status = "failed";
      detail = error instanceof ProblemError ? error.problem.detail : error instanceof Error ? error.message : String(error);
    }
    const firing: TriggerFiring = {
      id: newId("evt"),
      trigger_id: trigger.id,
      on: trigger.on,
      action_type: trigger.action.type,
      status,
      detail,
      fired_at: nowIso(),
      due_at: dueAt === null ? null : new Date(dueAt).toISOString(),
    };
    const cost = newCost();
    this.atomically(() => this.storage.recordFiring(cost, firing));
  }

  private async perform(action: TriggerAction, info: ConversationInfo, triggers: Trigger[]): Promise<string> {
    switch (action.type) {
      case "send_message": {
        const { message } = await this.postStaffMessage({ role: "bot", text: action.text, clientMessageId: null });
        return `Sent message ${message.id}.`;
      }
      case "update_participant_data": {
        const result = await writeParticipantData({
          db: this.env.DB,
          teamId: info.team_id,
          target: { participantId: info.participant_id },
          mutate: (current) => mergePatch(current, action.patch as JsonObject) as JsonObject,
          respond: (outcome) => ({ status: 200, body: { version: outcome.participant.version } }),
        });
        return `Participant data is at version ${String(result.body.version)}.`;
      }
      case "end_conversation":
        if (this.state.status === "ended") return "The conversation had already ended.";
        await this.setState({ status: "ended" }, triggers);
        return "Ended the conversation.";
      case "run_action":
        return runActionById(this.env, action.action_id, {
          teamId: info.team_id,
          chatbotId: info.chatbot_id,
          conversationId: info.conversation_id,
          participantId: info.participant_id,
        });
    }
  }

  /**
   * A live socket (the route checked the caller): accepted with the hibernation API, so
   * while it is idle the object may be evicted and costs no wall-clock time; it wakes
   * only to send what happened. Tagged by audience: visitors get messages only.
   */
  override async fetch(request: Request): Promise<Response> {
    this.requireInfo();
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
      return new Response("Expected a WebSocket upgrade.", { status: 426 });
    const audience: LiveAudience = new URL(request.url).searchParams.get("audience") === "staff" ? "staff" : "visitor";
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [audience]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override webSocketMessage(): void {
    // Sockets only listen; a client's "ping" is answered by the auto-response above.
  }

  override webSocketClose(socket: WebSocket, code: number, reason: string): void {
    try {
      socket.close(code === 1005 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }

  /** Sends an event to the live sockets of its audience; a socket that fails is dropped. */
  private broadcast(event: LiveEvent, audience: LiveAudience | "all" = "all"): void {
    const sockets = audience === "all" ? this.ctx.getWebSockets() : this.ctx.getWebSockets(audience);
    if (sockets.length === 0) return;
    const text = JSON.stringify(event);
    for (const socket of sockets) {
      try {
        socket.send(text);
      } catch {
        // closing or gone: the runtime drops it
      }
    }
  }

  /** New messages with the positions after the last; the caller inserts them (one statement), then moves `lastSeq`. */
  private newMessages(now: string, messages: [Message["role"], string][]): (Message & { seq: number })[] {
    let seq = this.lastSeq;
    return messages.map(([role, text]) => ({ seq: ++seq, id: newId("msg"), role, text, created_at: now }));
  }

  /** The customer fields that differ from what this conversation last wrote to D1. */
  private customerChange(candidate: CustomerChange): CustomerChange | null {
    const change: CustomerChange = {};
    for (const field of CUSTOMER_FIELDS) {
      const value = candidate[field];
      if (value !== undefined && value !== this.synced[field]) change[field] = value;
    }
    return Object.keys(change).length ? change : null;
  }

  /** Records a change as written here and owed to D1 (the outbox), in the conversation's row. */
  private recordSynced(cost: Cost, change: CustomerChange): void {
    this.synced = { ...this.synced, ...change };
    this.pending = { ...this.pending, ...change };
    this.storage.writeSynced(cost, this.synced, this.pending);
  }

  /**
   * Writes changed customer fields through to the participant, after every write
   * applied before it, and resolves once D1 has it: a read made after the answer
   * sees the new values. Only the changed columns are written, so fields set
   * elsewhere (API, dashboard) are not overwritten with stale ones. Confirmed fields
   * leave the outbox (in memory; its row is rewritten with the next write or flush).
   */
  private writeCustomer(change: CustomerChange): Promise<D1Result> {
    const { participant_id } = this.requireInfo();
    const statement = updateCustomerFields(this.env.DB, { participantId: participant_id }, change, nowIso());
    const write = this.customerWrites.then(() => statement.run());
    this.customerWrites = write.catch(() => undefined);
    return write.then((result) => {
      for (const field of CUSTOMER_FIELDS) if (field in change && this.pending[field] === change[field]) delete this.pending[field];
      this.customerRetryMs = CUSTOMER_RETRY_MS.first;
      return result;
    });
  }

  /**
   * Sets the alarm `delayMs` from now, unless it is already due sooner; the promise of
   * the write where one was made (nothing to await otherwise).
   */
  private scheduleAlarm(delayMs: number): Promise<void> | undefined {
    const at = Date.now() + delayMs;
    if (this.alarmAt !== null && this.alarmAt <= at) return undefined;
    this.alarmAt = at;
    return this.ctx.storage.setAlarm(at);
  }

  /** Copies counters and changed metadata to the D1 projection used for listing and analytics. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const info = this.info;
    if (!info) return;
    await this.fireDueTimers(info);
    await this.republishKeptEvents();
    const cost = newCost();
    let customerOwed = false;
    if (Object.keys(this.pending).length > 0) {
      try {
        await this.writeCustomer({ ...this.pending });
      } catch (error) {
        console.error("customer write-through retry failed", error);
        customerOwed = true;
      }
    }
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
        ...upsertProjectedMetadata(db, {
          conversationId: info.conversation_id,
          chatbotId: info.chatbot_id,
          key: row.key,
          value: row.value,
        }),
      );
    }
    const writes = (async () => {
      for (let i = 0; i < statements.length; i += D1_BATCH_SIZE) await db.batch(statements.slice(i, i + D1_BATCH_SIZE));
    })();
    this.projectionWrites = writes.catch(() => undefined);
    await writes;
    this.flushed = target;
    this.storage.writeFlushed(cost, target, this.pending);
    if (customerOwed) {
      await this.scheduleAlarm(this.customerRetryMs);
      this.customerRetryMs = Math.min(this.customerRetryMs * 2, CUSTOMER_RETRY_MS.max);
    }
    // Writes that arrived while D1 was being written go out with the next alarm.
    if (this.revision !== target.revision || this.lastSeq !== target.seq) await this.scheduleAlarm(FLUSH_DELAY_MS);
    const next = this.storage.nextTimer();
    if (next !== null) await this.scheduleAlarm(Math.max(0, next - Date.now()));
  }

  /**
   * Fires the inactivity timers that are due. A trigger deleted since it was armed does
   * not fire (checked against D1: changing or deleting a trigger never fires it late).
   */
  private async fireDueTimers(info: ConversationInfo): Promise<void> {
    for (const { trigger, dueAt } of this.storage.dueTimers(Date.now())) {
      const current = await findTrigger(this.env.DB, info.chatbot_id, trigger.id);
      if (!current) {
        this.storage.dropTimer(trigger.id);
        continue;
      }
      this.publish(() => [
        this.event("conversation.inactive", { trigger_id: current.id, inactive_since: this.lastVisitorAt(dueAt, current) }),
      ]);
      await this.run(current, dueAt, []);
    }
  }

  snapshot(): Snapshot {
    const info = this.requireInfo();
    return {
      info,
      metadata: this.storage.readAllMetadata(),
      message_count: this.lastSeq,
      last_message_at: this.lastMessageAt,
      customer_written: this.synced,
      verified: this.identity !== null,
      state: this.state,
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
    const changes: Record<string, string> = {};
    const { outcome, existed, change } = this.atomically(() => {
      const existed = this.metadataMirror.has(key);
      const outcome = applyMetadata(this.store(cost, now, changes), [[key, value]], "");
      const change = this.customerChange(outcome.customer);
      if (change) this.recordSynced(cost, change);
      return { outcome, existed, change };
    });
    const rejection = outcome.rejected[0];
    if (rejection) return { ok: false, reason: rejection.reason };
    await this.scheduleAlarm(FLUSH_DELAY_MS);
    if (Object.keys(changes).length > 0) {
      this.broadcast({ type: "metadata", metadata: changes }, "staff");
      this.publish(() => [this.event("conversation.metadata.updated", { changes })]);
    }
    if (change) await this.writeCustomer(change);
    return { ok: true, created: !existed, entry: this.readMetadataKey(key)!, warnings: outcome.warnings };
  }

  /** Deletes a key here and in the D1 projection at once. */
  async deleteMetadata(key: string): Promise<boolean> {
    const info = this.requireInfo();
    if (!this.storage.deleteMetadata(key)) return false;
    this.metadataMirror.delete(key);
    this.broadcast({ type: "metadata", metadata: { [key]: null } }, "staff");
    this.publish(() => [this.event("conversation.metadata.updated", { changes: { [key]: null } })]);
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

/** The pairs a start stored, with their values, for the `conversation.started` event. */
function changesOf(outcome: MetadataOutcome, entries: [string, unknown][]): Record<string, string> {
  const sent = new Map(entries);
  return Object.fromEntries(outcome.accepted.map((key) => [`${WIDGET_KEY_PREFIX}${key}`, sent.get(key) as string]));
}

/** A message as answered: without its position. */
const bare = ({ seq: _seq, ...message }: Message & { seq: number }): Message => message;

/** A store with nothing in it, for a dry run of the rules. */
function emptyStore(): MetadataStore {
  const keys = new Set<string>();
  return { compare: (key) => (keys.has(key) ? "different" : "absent"), pairCount: () => keys.size, upsert: (key) => void keys.add(key) };
}

/**
 * The customer fields a visitor's message may write (rule 5, and the identity rules):
 * special keys, the timezone, and a verified identity's claims. Where verification is
 * required, a special key counts only where it equals the verified claim.
 */
function customerPolicy(
  outcome: Pick<MetadataOutcome, "customer" | "customerKeys">,
  timezone: string | null,
  identity: VerifiedIdentity | null,
  identityRequired: boolean,
): { change: CustomerChange; warnings: Warning[] } {
  const change: CustomerChange = {};
  const warnings: Warning[] = [];
  for (const field of ["name", "email", "phone"] as const) {
    const value = outcome.customer[field];
    if (value === undefined) continue;
    if (identityRequired && identity?.claims[field] !== value) {
      warnings.push({ key: outcome.customerKeys[field] ?? field, reason: "unverified_customer_field" });
      continue;
    }
    change[field] = value;
  }
  if (identity) Object.assign(change, identity.claims);
  if (timezone) change.timezone = timezone;
  return { change, warnings };
}

function answer(outcome: MetadataOutcome, extraWarnings: Warning[]): MetadataAnswer {
  return { accepted: outcome.accepted, rejected: outcome.rejected, warnings: [...outcome.warnings, ...extraWarnings] };
}
