/** The `chatbots` table, and an isolate cache of it for the widget routes. */

/** Identity secrets as stored: sealed (see identity-secret.ts), the previous one kept for a grace period. */
export type IdentitySecrets = { current: string | null; previous: string | null; rotated_at: string | null };

type ChatbotRow = {
  id: string;
  team_id: string;
  name: string;
  allowed_origins: string;
  participant_data_schema: string | null;
  identity_verification: IdentityVerification;
  stand_in_replies: number;
  identity_secret: string | null;
  identity_secret_previous: string | null;
  identity_secret_rotated_at: string | null;
  created_at: string;
  updated_at: string;
};

export type IdentityVerification = "off" | "required";

export type Chatbot = {
  id: string;
  team_id: string;
  name: string;
  allowed_origins: string[];
  participant_data_schema: Record<string, unknown> | null;
  identity_verification: IdentityVerification;
  /** Whether visitor messages get the stand-in summary reply (off where the team's own bot answers). */
  stand_in_replies: boolean;
  identity_secrets: IdentitySecrets;
  created_at: string;
  updated_at: string;
};

function chatbotFromRow(row: ChatbotRow): Chatbot {
  return {
    id: row.id,
    team_id: row.team_id,
    name: row.name,
    allowed_origins: JSON.parse(row.allowed_origins) as string[],
    participant_data_schema: row.participant_data_schema ? JSON.parse(row.participant_data_schema) : null,
    identity_verification: row.identity_verification ?? "off",
    stand_in_replies: row.stand_in_replies !== 0,
    identity_secrets: { current: row.identity_secret, previous: row.identity_secret_previous, rotated_at: row.identity_secret_rotated_at },
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/**
 * The public representation: the owning team is implied by the key that reads it, and
 * the identity secret is never shown again (only whether one is set).
 */
export function presentChatbot({ team_id: _team, identity_secrets, ...chatbot }: Chatbot) {
  return { ...chatbot, identity_secret_set: identity_secrets.current !== null };
}

export async function findChatbot(db: D1Database, id: string): Promise<Chatbot | null> {
  const row = await db.prepare("SELECT * FROM chatbots WHERE id = ?").bind(id).first<ChatbotRow>();
  return row ? chatbotFromRow(row) : null;
}

/** The team's chatbots, oldest first (a team has few). */
export async function listTeamChatbots(db: D1Database, teamId: string): Promise<Chatbot[]> {
  const { results } = await db.prepare("SELECT * FROM chatbots WHERE team_id = ? ORDER BY id").bind(teamId).all<ChatbotRow>();
  return results.map(chatbotFromRow);
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
      `INSERT INTO chatbots (id, team_id, name, allowed_origins, participant_data_schema, identity_verification, stand_in_replies,
         created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      chatbot.id,
      chatbot.team_id,
      chatbot.name,
      allowed_origins,
      participant_data_schema,
      chatbot.identity_verification,
      chatbot.stand_in_replies ? 1 : 0,
      chatbot.created_at,
      chatbot.updated_at,
    );
}

/** Writes the chatbot's settings and drops it from this isolate's cache. */
export async function updateChatbot(db: D1Database, chatbot: Chatbot): Promise<void> {
  const { allowed_origins, participant_data_schema } = columnsOf(chatbot);
  await db
    .prepare(
      `UPDATE chatbots SET name = ?, allowed_origins = ?, participant_data_schema = ?, identity_verification = ?, stand_in_replies = ?,
         updated_at = ?
       WHERE id = ? AND team_id = ?`,
    )
    .bind(
      chatbot.name,
      allowed_origins,
      participant_data_schema,
      chatbot.identity_verification,
      chatbot.stand_in_replies ? 1 : 0,
      chatbot.updated_at,
      chatbot.id,
      chatbot.team_id,
    )
    .run();
  cache.delete(chatbot.id);
}

/** Stores a new sealed identity secret; the one it replaces stays valid for a grace period. */
export async function rotateIdentitySecret(
  db: D1Database,
  chatbot: Pick<Chatbot, "id" | "team_id">,
  sealed: string,
  now: string,
): Promise<void> {
  await db
    .prepare(
      `UPDATE chatbots SET identity_secret_previous = identity_secret, identity_secret = ?, identity_secret_rotated_at = ?, updated_at = ?
       WHERE id = ? AND team_id = ?`,
    )
    .bind(sealed, now, now, chatbot.id, chatbot.team_id)
    .run();
  cache.delete(chatbot.id);
}
