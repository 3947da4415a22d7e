import { ID_PATTERN } from "../shared/ids";
import { notFound } from "../shared/problem";
import { type Chatbot, findTeamChatbot } from "./storage";

/** The team's chatbot, or 404: another team's id, a missing one and junk answer alike. */
export async function requireTeamChatbot(db: D1Database, teamId: string, id: string): Promise<Chatbot> {
  const chatbot = ID_PATTERN.test(id) ? await findTeamChatbot(db, teamId, id) : null;
  if (!chatbot) throw notFound("No chatbot with that id.");
  return chatbot;
}
