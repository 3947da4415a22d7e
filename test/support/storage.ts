import { env } from "cloudflare:workers";
import { type Chatbot, insertChatbot } from "../../src/chatbots/storage";
import { newId } from "../../src/shared/ids";
import { insertTeam } from "../../src/teams/storage";

/** A chatbot as the storage layer takes it, for storage tests that insert rows directly. */
export function chatbotRecord(teamId: string, overrides: Partial<Chatbot> = {}): Chatbot {
  return {
    id: newId("cb"),
    team_id: teamId,
    name: "Bot",
    allowed_origins: [],
    participant_data_schema: null,
    identity_verification: "off",
    stand_in_replies: true,
    identity_secrets: { current: null, previous: null, rotated_at: null },
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}

/** A team and one chatbot of it inserted straight through their storage modules: their ids. */
export async function insertTeamWithChatbot(now: string): Promise<{ teamId: string; chatbotId: string }> {
  const teamId = newId("team");
  const chatbot = chatbotRecord(teamId);
  await env.DB.batch([insertTeam(env.DB, { id: teamId, name: "t", created_at: now }), insertChatbot(env.DB, chatbot)]);
  return { teamId, chatbotId: chatbot.id };
}
