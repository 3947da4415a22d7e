import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { insertChatbot } from "../../src/chatbots/storage";
import {
  findCustomerRecord,
  findParticipantByNaturalKeyForWrite,
  findParticipantForWrite,
  findParticipantIdByNaturalKey,
  findParticipantsByNaturalKeys,
  findRenderHead,
  findTeamParticipant,
  insertParticipant,
  listDataKeys,
  listExportPage,
  listParticipants,
  type ParticipantRow,
  updateCustomerFields,
  updateParticipantData,
  upsertWebParticipant,
} from "../../src/participants/storage";
import { newCost } from "../../src/shared/cost";
import { newId } from "../../src/shared/ids";
import { insertTeam } from "../../src/teams/storage";
import { chatbotRecord } from "../support/storage";

const NOW = "2026-01-01T00:00:00.000Z";
let teamId: string;
let otherTeamId: string;
let chatbotId: string;

beforeAll(async () => {
  teamId = newId("team");
  otherTeamId = newId("team");
  chatbotId = newId("cb");
  await env.DB.batch([
    insertTeam(env.DB, { id: teamId, name: "t", created_at: NOW }),
    insertTeam(env.DB, { id: otherTeamId, name: "o", created_at: NOW }),
    insertChatbot(env.DB, chatbotRecord(teamId, { id: chatbotId, participant_data_schema: { type: "object" } })),
  ]);
});

function participant(overrides: Partial<ParticipantRow> = {}): ParticipantRow {
  return {
    id: newId("part"),
    team_id: teamId,
    chatbot_id: chatbotId,
    channel: "api",
    identifier: `user-${Math.random().toString(36).slice(2)}`,
    name: null,
    email: null,
    phone: null,
    timezone: null,
    data: "{}",
    version: 1,
    created_at: NOW,
    updated_at: NOW,
    ...overrides,
  };
}

describe("participants storage", () => {
  it("inserts once per (chatbot, channel, identifier): a second insert changes nothing", async () => {
    const row = participant({ data: '{"a":1}' });
    expect((await insertParticipant(env.DB, row).run()).meta.changes).toBe(1);
    const twin = participant({ identifier: row.identifier });
    expect((await insertParticipant(env.DB, twin).run()).meta.changes).toBe(0);
    expect(await findParticipantIdByNaturalKey(env.DB, chatbotId, "api", row.identifier)).toBe(row.id);
    expect(await findTeamParticipant(env.DB, teamId, row.id)).toEqual({ ...row, verified: 0 });
    expect(await findTeamParticipant(env.DB, otherTeamId, row.id)).toBeNull();
  });

  it("updates data only at the expected version, and bumps it", async () => {
    const row = participant();
    await insertParticipant(env.DB, row).run();
    const stale = await updateParticipantData(env.DB, { id: row.id, expectedVersion: 7, data: '{"x":1}', now: NOW, writeId: "wr_a" }).run();
    expect(stale.meta.changes).toBe(0);
    const won = await updateParticipantData(env.DB, { id: row.id, expectedVersion: 1, data: '{"x":2}', now: NOW, writeId: "wr_b" }).run();
    expect(won.meta.changes).toBe(1);
    expect(await findTeamParticipant(env.DB, teamId, row.id)).toMatchObject({ data: '{"x":2}', version: 2 });
    await updateParticipantData(env.DB, {
      id: row.id,
      expectedVersion: 2,
      data: '{"x":2}',
      name: "Ann",
      bumpVersion: false,
      now: NOW,
      writeId: "wr_c",
    }).run();
    expect(await findTeamParticipant(env.DB, teamId, row.id)).toMatchObject({ name: "Ann", version: 2 });
  });

  it("writes only the customer fields given, and only for the team named", async () => {
    const row = participant({ name: "Kept", email: "old@example.com" });
    await insertParticipant(env.DB, row).run();
    const foreign = await updateCustomerFields(
      env.DB,
      { participantId: row.id, teamId: otherTeamId },
      { email: "x@example.com" },
      NOW,
    ).run();
    expect(foreign.meta.changes).toBe(0);
    await updateCustomerFields(env.DB, { participantId: row.id }, { email: "new@example.com", timezone: "Europe/Paris" }, NOW).run();
    expect(await findCustomerRecord(env.DB, row.id)).toEqual({
      name: "Kept",
      email: "new@example.com",
      phone: null,
      timezone: "Europe/Paris",
    });
  });

  it("upserts the web participant: fields fill in, nulls never blank them, the id is returned", async () => {
    const visitorId = `vis-${Math.random()}`;
    const customer = { name: "Vi", email: null, phone: null, timezone: "Europe/Vilnius" };
    const first = await upsertWebParticipant(env.DB, {
      id: newId("part"),
      teamId,
      chatbotId,
      identifier: visitorId,
      verified: false,
      customer,
      now: NOW,
    }).first<{
      id: string;
    }>();
    const again = await upsertWebParticipant(env.DB, {
      id: newId("part"),
      teamId,
      chatbotId,
      identifier: visitorId,
      verified: false,
      customer: { name: null, email: "vi@example.com", phone: null, timezone: null },
      now: NOW,
    }).first<{ id: string }>();
    expect(again!.id).toBe(first!.id);
    expect(await findCustomerRecord(env.DB, first!.id)).toEqual({
      name: "Vi",
      email: "vi@example.com",
      phone: null,
      timezone: "Europe/Vilnius",
    });
  });

  it("reads for a write with the chatbot's schema, by id or natural key, for the owning team only", async () => {
    const row = participant();
    await insertParticipant(env.DB, row).run();
    expect(await findParticipantForWrite(env.DB, teamId, row.id)).toEqual({ row: { ...row, verified: 0 }, schema: '{"type":"object"}' });
    expect(await findParticipantForWrite(env.DB, otherTeamId, row.id)).toBeNull();
    const key = { chatbotId, channel: "api", identifier: row.identifier };
    expect(await findParticipantByNaturalKeyForWrite(env.DB, teamId, key)).toEqual({
      chatbotId,
      schema: '{"type":"object"}',
      row: { ...row, verified: 0 },
    });
    expect(await findParticipantByNaturalKeyForWrite(env.DB, teamId, { ...key, identifier: "absent" })).toEqual({
      chatbotId,
      schema: '{"type":"object"}',
      row: null,
    });
    expect(await findParticipantByNaturalKeyForWrite(env.DB, otherTeamId, key)).toBeNull();
  });

  it("finds many by natural key in one statement, lists pages, data keys and export pages", async () => {
    const rows = [participant({ data: '{"b":1,"a":2}' }), participant({ data: '{"c":true}' }), participant()];
    for (const row of rows) await insertParticipant(env.DB, row).run();
    const found = await findParticipantsByNaturalKeys(env.DB, chatbotId, [
      ["api", rows[0]!.identifier],
      ["api", rows[2]!.identifier],
      ["web", rows[1]!.identifier],
    ]);
    expect(found.map((row) => row.id).sort()).toEqual([rows[0]!.id, rows[2]!.id].sort());
    expect(await listDataKeys(env.DB, chatbotId)).toEqual(expect.arrayContaining(["a", "b", "c"]));
    const page = await listParticipants(env.DB, { teamId, chatbotId, limit: 2 });
    expect(page.rows).toHaveLength(2);
    const next = await listParticipants(env.DB, { teamId, chatbotId, limit: 1000, cursor: page.nextCursor! });
    expect(next.rows.every((row) => row.id > page.nextCursor!)).toBe(true);
    const exported = await listExportPage(env.DB, chatbotId, "", 1000);
    expect(exported.map((row) => row.id)).toEqual(expect.arrayContaining(rows.map((row) => row.id)));
    expect(await listParticipants(env.DB, { teamId: otherTeamId, limit: 10 })).toEqual({ rows: [], nextCursor: null });
  });

  it("lists newest first where asked (the dashboard's order), paging below the cursor", async () => {
    const bot = newId("cb");
    await insertChatbot(env.DB, chatbotRecord(teamId, { id: bot, participant_data_schema: null })).run();
    const rows = [0, 1, 2].map((i) => participant({ id: newId("part", Date.UTC(2026, 0, 1, 0, 0, i)), chatbot_id: bot }));
    for (const row of rows) await insertParticipant(env.DB, row).run();
    const first = await listParticipants(env.DB, { teamId, chatbotId: bot, limit: 2, newestFirst: true });
    expect(first.rows.map((row) => row.id)).toEqual([rows[2]!.id, rows[1]!.id]);
    expect(first.nextCursor).toBe(rows[1]!.id);
    const rest = await listParticipants(env.DB, { teamId, chatbotId: bot, limit: 2, newestFirst: true, cursor: first.nextCursor! });
    expect(rest).toEqual({ rows: [expect.objectContaining({ id: rows[0]!.id })], nextCursor: null });
    const oldest = await listParticipants(env.DB, { teamId, chatbotId: bot, limit: 1 });
    expect(oldest.rows.map((row) => row.id)).toEqual([rows[0]!.id]);
  });

  it("reads a render head in one row and counts it", async () => {
    const row = participant({ name: "N", timezone: "UTC" });
    await insertParticipant(env.DB, row).run();
    const cost = newCost();
    expect(await findRenderHead(env.DB, teamId, row.id, cost)).toEqual({ version: 1, name: "N", timezone: "UTC" });
    expect(cost.d1RowsRead).toBe(1);
    expect(await findRenderHead(env.DB, otherTeamId, row.id, cost)).toBeNull();
  });
});
