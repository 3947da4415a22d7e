/** The `chatbots` table, and an isolate cache of it for the widget routes. */

type ChatbotRow = {
  id: string;
  team_id: string;
  name: string;
  allowed_origins: string;
  participant_data_schema: string | null;
  created_at: string;
  updated_at: string;
};

export type Chatbot = {
  id: string;
  team_id: string;
  name: string;
  allowed_origins: string[];
  participant_data_schema: Record<string, unknown> | null;
  created_at: string;
  updated_at: string;
};

function chatbotFromRow(row: ChatbotRow): Chatbot {
  return {
    ...row,
    allowed_origins: JSON.parse(row.allowed_origins) as string[],
    participant_data_schema: row.participant_data_schema ? JSON.parse(row.participant_data_schema) : null,
  };
}

/** The public representation: the owning team is implied by the key that reads it. */
export function presentChatbot({ team_id: _team, ...chatbot }: Chatbot) {
  return chatbot;
}

export async function findChatbot(db: D1Database, id: string): Promise<Chatbot | null> {
  const row = await db.prepare("SELECT * FROM chatbots WHERE id = ?").bind(id).first<ChatbotRow>();
  return row ? chatbotFromRow(row) : null;
}

/** A chatbot of this team, or null: another team's chatbot is as absent as a missing one. */
export async function findTeamChatbot(db: D1Database, teamId: string, id: string): Promise<Chatbot | null> {
  const chatbot = await findChatbot(db, id);
  return chatbot && chatbot.team_id === teamId ? chatbot : null;
}

// Widget routes read a chatbot's team and allowed origins on every request; an
// isolate-level cache keeps that off D1. Writes in this isolate invalidate it at
// once; other isolates see a change within CACHE_TTL_MS (documented in docs/conversations.md).
const CACHE_TTL_MS = 30_000;
const cache = new Map<string, { chatbot: Chatbot | null; expires: number }>();

export async function findChatbotCached(db: D1Database, id: string): Promise<Chatbot | null> {
  const hit = cache.get(id);
  if (hit && hit.expires > Date.now()) return hit.chatbot;
  const chatbot = await findChatbot(db, id);
  if (cache.size > 10_000) cache.clear();
  cache.set(id, { chatbot, expires: Date.now() + CACHE_TTL_MS });
  return chatbot;
}

function columnsOf(chatbot: Chatbot) {
  return {
    allowed_origins: JSON.stringify(chatbot.allowed_origins),
    participant_data_schema: chatbot.participant_data_schema ? JSON.stringify(chatbot.participant_data_schema) : null,
  };
}

export function insertChatbot(db: D1Database, chatbot: Chatbot): D1PreparedStatement {
  const { allowed_origins, participant_data_schema } = columnsOf(chatbot);
  return db
    .prepare(
      "INSERT INTO chatbots (id, team_id, name, allowed_origins, participant_data_schema, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(chatbot.id, chatbot.team_id, chatbot.name, allowed_origins, participant_data_schema, chatbot.created_at, chatbot.updated_at);
}

/** Writes the chatbot's settings and drops it from this isolate's cache. */
export async function updateChatbot(db: D1Database, chatbot: Chatbot): Promise<void> {
  const { allowed_origins, participant_data_schema } = columnsOf(chatbot);
  await db
    .prepare("UPDATE chatbots SET name = ?, allowed_origins = ?, participant_data_schema = ?, updated_at = ? WHERE id = ? AND team_id = ?")
    .bind(chatbot.name, allowed_origins, participant_data_schema, chatbot.updated_at, chatbot.id, chatbot.team_id)
    .run();
  cache.delete(chatbot.id);
}
