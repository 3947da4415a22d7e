import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/shared/ids";
import type { Trigger } from "../../src/triggers/model";
import {
  deleteTrigger,
  findTrigger,
  insertTrigger,
  listTriggers,
  listTriggersCached,
  MAX_TRIGGERS_PER_CHATBOT,
} from "../../src/triggers/storage";
import { createChatbot, createTeam } from "../support/api";

const trigger = (overrides: Partial<Trigger> = {}): Trigger => ({
  id: newId("trg"),
  on: "message_received",
  delay_seconds: null,
  max_fires: 1,
  action: { type: "send_message", text: "hi" },
  created_at: "2026-01-01T00:00:00.000Z",
  ...overrides,
});

describe("triggers storage", () => {
  it("inserts, lists in id order, finds by chatbot only, and deletes", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey);
    const other = await createChatbot(team.apiKey);
    const first = trigger();
    const second = trigger({ on: "conversation_inactive", delay_seconds: 60, action: { type: "end_conversation" } });
    expect(await insertTrigger(env.DB, team.id, bot.id, first)).toBe(true);
    expect(await insertTrigger(env.DB, team.id, bot.id, second)).toBe(true);
    expect(await listTriggers(env.DB, bot.id)).toEqual([first, second].sort((a, b) => (a.id < b.id ? -1 : 1)));
    expect(await findTrigger(env.DB, bot.id, second.id)).toEqual(second);
    expect(await findTrigger(env.DB, other.id, second.id)).toBeNull();
    expect(await deleteTrigger(env.DB, other.id, first.id)).toBe(false);
    expect(await deleteTrigger(env.DB, bot.id, first.id)).toBe(true);
    expect(await listTriggers(env.DB, bot.id)).toEqual([second]);
  });

  it("refuses past the per-chatbot limit in the insert itself, and keeps the isolate cache current on writes", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey);
    expect(await listTriggersCached(env.DB, bot.id)).toEqual([]);
    for (let i = 0; i < MAX_TRIGGERS_PER_CHATBOT; i++) expect(await insertTrigger(env.DB, team.id, bot.id, trigger())).toBe(true);
    expect(await insertTrigger(env.DB, team.id, bot.id, trigger())).toBe(false);
    expect(await listTriggersCached(env.DB, bot.id)).toHaveLength(MAX_TRIGGERS_PER_CHATBOT);
  });
});
