import { ID_PATTERN } from "../shared/ids";
import { notFound } from "../shared/problem";
import { findTeamParticipant, type ParticipantRow } from "./storage";

/** The team's participant, or 404: another team's id, a missing one and junk answer alike. */
export async function requireTeamParticipant(db: D1Database, teamId: string, id: string): Promise<ParticipantRow> {
  const row = ID_PATTERN.test(id) ? await findTeamParticipant(db, teamId, id) : null;
  if (!row) throw notFound("No participant with that id.");
  return row;
}
