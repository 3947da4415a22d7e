import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  deleteProjectedMetadata,
  findConversationView,
  findLatestOpenConversation,
  findTeamConversation,
  insertWebConversation,
  listConversations,
  updateConversationCounters,
  updateConversationState,
  upsertProjectedMetadata,
} from "../../src/conversations/storage";
import { findTeamParticipant, upsertWebParticipant } from "../../src/participants/storage";
import { newId } from "../../src/shared/ids";
import { countD1Statements, queryPlan } from "../support/api";
import { chatbotRecord, insertTeamWithChatbot } from "../support/storage";

const NOW = "2026-01-01T00:00:00.000Z";
let teamId: string;
let chatbotId: string;

beforeAll(async () => {
  ({ teamId, chatbotId } = await insertTeamWithChatbot(NOW));
});

/** A web conversation as the conversation object starts one: participant and index row in one batch. */
async function startConversation(customer = { name: "Ann", email: "ann@example.com", phone: null, timezone: null }) {
  const id = newId("conv");
  const visitorId = `vis-${Math.random().toString(36).slice(2)}`;
  const [participant] = await env.DB.batch<{ id: string }>([
    upsertWebParticipant(env.DB, { id: newId("part"), teamId, chatbotId, identifier: visitorId, verified: false, customer, now: NOW }),
    insertWebConversation(env.DB, { id, teamId, chatbotId, identifier: visitorId, startedAt: NOW }),
  ]);
  return { id, participantId: participant!.results[0]!.id };
}

describe("conversations storage", () => {
  it("indexes a conversation in the same batch that creates its participant, readable with the customer", async () => {
    const { id, participantId } = await startConversation();
    expect(await findTeamConversation(env.DB, teamId, id)).toEqual({
      id,
      chatbot_id: chatbotId,
      channel: "web",
      participant_id: participantId,
      started_at: NOW,
      last_message_at: null,
      message_count: 0,
      name: "Ann",
      email: "ann@example.com",
      phone: null,
    });
    expect(await findTeamConversation(env.DB, newId("team"), id)).toBeNull();
  });

  it("moves counters and projects metadata; filters by key and value; deletes a projected key", async () => {
    const { id } = await startConversation();
    const other = await startConversation();
    await env.DB.batch([
      updateConversationCounters(env.DB, { id, messageCount: 4, lastMessageAt: "2026-01-01T00:01:00.000Z" }),
      ...upsertProjectedMetadata(env.DB, { conversationId: id, chatbotId, key: "chat-widget:plan", value: "pro" }),
      ...upsertProjectedMetadata(env.DB, { conversationId: id, chatbotId, key: "chat-widget:plan", value: "enterprise" }),
      ...upsertProjectedMetadata(env.DB, { conversationId: other.id, chatbotId, key: "chat-widget:plan", value: "free" }),
    ]);
    expect(await findTeamConversation(env.DB, teamId, id)).toMatchObject({ message_count: 4, last_message_at: "2026-01-01T00:01:00.000Z" });
    const byValue = await listConversations(env.DB, { teamId, limit: 10, metadata: { key: "chat-widget:plan", value: "enterprise" } });
    expect(byValue.rows.map((row) => row.id)).toEqual([id]);
    const byKey = await listConversations(env.DB, { teamId, chatbotId, limit: 10, metadata: { key: "chat-widget:plan" } });
    expect(byKey.rows.map((row) => row.id).sort()).toEqual([id, other.id].sort());
    await deleteProjectedMetadata(env.DB, id, "chat-widget:plan").run();
    const after = await listConversations(env.DB, { teamId, limit: 10, metadata: { key: "chat-widget:plan" } });
    expect(after.rows.map((row) => row.id)).toEqual([other.id]);
  });

  it("pages newest first with the last id as the cursor", async () => {
    for (let i = 0; i < 3; i++) await startConversation();
    const first = await listConversations(env.DB, { teamId, limit: 2 });
    expect(first.rows).toHaveLength(2);
    expect(first.rows[0]!.id > first.rows[1]!.id).toBe(true);
    const second = await listConversations(env.DB, { teamId, limit: 100, cursor: first.nextCursor! });
    expect(second.rows.every((row) => row.id < first.nextCursor!)).toBe(true);
    expect(second.nextCursor).toBeNull();
  });

  it("lists one participant's conversations, newest first, through conversations_by_participant", async () => {
    const { id: first, participantId } = await startConversation();
    const second = newId("conv");
    const { identifier } = (await findTeamParticipant(env.DB, teamId, participantId))!;
    await insertWebConversation(env.DB, { id: second, teamId, chatbotId, identifier, startedAt: NOW }).run();
    await startConversation();
    const page = await listConversations(env.DB, { teamId, participantId, limit: 1 });
    expect(page.rows.map((row) => row.id)).toEqual([second]);
    const rest = await listConversations(env.DB, { teamId, participantId, limit: 1, cursor: page.nextCursor! });
    expect(rest).toEqual({ rows: [expect.objectContaining({ id: first, participant_id: participantId })], nextCursor: null });
    expect(await listConversations(env.DB, { teamId: newId("team"), participantId, limit: 10 })).toEqual({ rows: [], nextCursor: null });
  });
});

describe("the dashboard's view of a conversation", () => {
  it("reads the row, the chatbot's name and the participant's record in one statement; another team's id is null", async () => {
    const { id, participantId } = await startConversation();
    await env.DB.prepare("UPDATE participants SET phone = ?, timezone = ?, data = ?, verified = 1 WHERE id = ?")
      .bind("+15550100", "Europe/Paris", '{"plan":"pro"}', participantId)
      .run();
    const view = await findConversationView(env.DB, teamId, id, { withData: true });
    expect(view).toEqual({
      id,
      chatbot_id: chatbotId,
      channel: "web",
      participant_id: participantId,
      started_at: NOW,
      last_message_at: null,
      message_count: 0,
      chatbot_name: chatbotRecord(teamId, { id: chatbotId }).name,
      name: "Ann",
      email: "ann@example.com",
      phone: "+15550100",
      timezone: "Europe/Paris",
      verified: 1,
      data: '{"plan":"pro"}',
    });
    // Without data: the same, minus the participant's data (up to 64 KiB) a poll does not need.
    const { data: _data, ...withoutData } = view!;
    expect(await findConversationView(env.DB, teamId, id, { withData: false })).toEqual(withoutData);
    expect(await findConversationView(env.DB, newId("team"), id, { withData: true })).toBeNull();
    expect(await findConversationView(env.DB, teamId, newId("conv"), { withData: true })).toBeNull();
  });
});

describe("a participant's latest open conversation", () => {
  it("is the most recently started one still open; ended ones, other participants' and another team's are not", async () => {
    const { id: first, participantId } = await startConversation();
    const { identifier } = (await findTeamParticipant(env.DB, teamId, participantId))!;
    expect(await findLatestOpenConversation(env.DB, teamId, participantId)).toEqual({ id: first });
    const second = newId("conv");
    await insertWebConversation(env.DB, { id: second, teamId, chatbotId, identifier, startedAt: NOW }).run();
    await startConversation();
    expect(await findLatestOpenConversation(env.DB, teamId, participantId)).toEqual({ id: second });
    await updateConversationState(env.DB, { id: second, status: "ended", outcome: null, endedAt: NOW }).run();
    expect(await findLatestOpenConversation(env.DB, teamId, participantId)).toEqual({ id: first });
    expect(await findLatestOpenConversation(env.DB, newId("team"), participantId)).toBeNull();
    await updateConversationState(env.DB, { id: first, status: "ended", outcome: null, endedAt: NOW }).run();
    expect(await findLatestOpenConversation(env.DB, teamId, participantId)).toBeNull();
  });

  it("is read through conversations_by_participant_status", async () => {
    const { queries } = await countD1Statements(async () => {
      await findLatestOpenConversation(env.DB, teamId, "part_x");
    });
    expect(queries).toHaveLength(1);
    const details = await queryPlan(queries[0]!, ["part_x", teamId]);
    expect(details).toContain("conversations_by_participant_status");
    expect(details).not.toContain("TEMP B-TREE");
  });
});
