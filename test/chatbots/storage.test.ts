import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type Chatbot, findChatbot, findChatbotCached, findTeamChatbot, insertChatbot, updateChatbot } from "../../src/chatbots/storage";
import { newId } from "../../src/shared/ids";
import { insertTeam } from "../../src/teams/storage";
import { chatbotRecord } from "../support/storage";

async function team(): Promise<string> {
  const id = newId("team");
  await insertTeam(env.DB, { id, name: "t", created_at: "2026-01-01T00:00:00.000Z" }).run();
  return id;
}

const chatbot = (teamId: string, overrides: Partial<Chatbot> = {}) =>
  chatbotRecord(teamId, { allowed_origins: ["https://shop.example"], participant_data_schema: { type: "object" }, ...overrides });

describe("chatbots storage", () => {
  it("stores origins and schema as JSON and reads them back as values", async () => {
    const bot = chatbot(await team());
    await insertChatbot(env.DB, bot).run();
    expect(await findChatbot(env.DB, bot.id)).toEqual(bot);
    const bare = chatbot(bot.team_id, { participant_data_schema: null, allowed_origins: [] });
    await insertChatbot(env.DB, bare).run();
    expect(await findChatbot(env.DB, bare.id)).toEqual(bare);
  });

  it("finds a chatbot for its own team only", async () => {
    const bot = chatbot(await team());
    await insertChatbot(env.DB, bot).run();
    expect(await findTeamChatbot(env.DB, bot.team_id, bot.id)).toEqual(bot);
    expect(await findTeamChatbot(env.DB, await team(), bot.id)).toBeNull();
  });

  it("updates settings, never another team's chatbot, and drops the isolate cache", async () => {
    const bot = chatbot(await team());
    await insertChatbot(env.DB, bot).run();
    expect((await findChatbotCached(env.DB, bot.id))?.name).toBe("Bot");
    await updateChatbot(env.DB, { ...bot, name: "Renamed", allowed_origins: [], updated_at: "2026-02-01T00:00:00.000Z" });
    expect(await findChatbotCached(env.DB, bot.id)).toMatchObject({ name: "Renamed", allowed_origins: [] });
    await updateChatbot(env.DB, { ...bot, team_id: await team(), name: "Hijacked" });
    expect((await findChatbot(env.DB, bot.id))?.name).toBe("Renamed");
  });
});
