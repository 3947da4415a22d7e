import { env } from "cloudflare:workers";
import { call, createChatbot, createTeam } from "./api";

/** A fresh team with one chatbot (optionally with a participant data schema). */
export async function teamWithChatbot(schema?: Record<string, unknown>) {
  const team = await createTeam();
  const chatbot = await createChatbot(team.apiKey, schema ? { name: "Data bot", participant_data_schema: schema } : { name: "Data bot" });
  return { team, apiKey: team.apiKey, chatbot };
}

let counter = 0;

/** Creates a participant through the API; throws unless 201. */
export async function createParticipant(
  apiKey: string,
  chatbotId: string,
  body: Record<string, unknown> = {},
): Promise<{ id: string; version: number; data: Record<string, unknown>; [key: string]: unknown }> {
  const response = await call("POST", "/v1/participants", {
    token: apiKey,
    body: { chatbot_id: chatbotId, channel: "api", identifier: `user-${++counter}-${Math.random().toString(36).slice(2)}`, ...body },
  });
  if (response.status !== 201) throw new Error(`participant: ${response.status} ${response.text}`);
  return response.json;
}

export async function getParticipant(apiKey: string, id: string) {
  const response = await call("GET", `/v1/participants/${id}`, { token: apiKey });
  if (response.status !== 200) throw new Error(`get participant: ${response.status} ${response.text}`);
  return response.json as {
    id: string;
    version: number;
    data: Record<string, any>;
    name: string | null;
    timezone: string | null;
    [key: string]: unknown;
  };
}

/** A chatbot's participants in creation order (up to the list's 200 limit); throws unless 200. */
export async function listParticipants(apiKey: string, chatbotId: string): Promise<any[]> {
  const response = await call("GET", `/v1/participants?chatbot_id=${chatbotId}&limit=200`, { token: apiKey });
  if (response.status !== 200) throw new Error(`list participants: ${response.status} ${response.text}`);
  return response.json.participants;
}

/** A participant's D1 row as stored, every column; throws where there is none. */
export async function participantRow(id: string): Promise<Record<string, unknown>> {
  const row = await env.DB.prepare("SELECT * FROM participants WHERE id = ?").bind(id).first<Record<string, unknown>>();
  if (!row) throw new Error(`no participant row ${id}`);
  return row;
}
