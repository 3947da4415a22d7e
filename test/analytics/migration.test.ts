import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { numericValue } from "../../src/conversations/storage";
import { newId } from "../../src/shared/ids";

const NOW = "2026-01-01T00:00:00.000Z";
const MIGRATIONS = ["0011_analytics.sql", "0013_analytics_segments.sql"];

/**
 * Puts this file's database back to the layout before the analytics migrations (its own
 * storage: other files never see it), so they can be run again over old rows.
 */
async function undoMigration() {
  await env.DB.batch(
    [
      "DROP INDEX conversations_by_chatbot_seq",
      "DROP TRIGGER conversations_outcome_insert",
      "DROP TRIGGER conversations_outcome_update",
      "DROP TABLE outcome_labels",
      "DROP TRIGGER conversation_metadata_insert",
      "DROP VIEW conversation_metadata",
      "DROP TABLE metadata_values",
      "DROP TABLE metadata_keys",
      "DROP TRIGGER conversations_seq",
      "DROP INDEX conversations_by_seq",
      "DROP INDEX conversations_for_analytics",
      "ALTER TABLE conversations DROP COLUMN seq",
      `CREATE TABLE conversation_metadata (
        conversation_id TEXT NOT NULL REFERENCES conversations (id), chatbot_id TEXT NOT NULL, key TEXT NOT NULL,
        value TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (conversation_id, key)) WITHOUT ROWID`,
    ].map((sql) => env.DB.prepare(sql)),
  );
}

async function applyMigration() {
  for (const name of MIGRATIONS) {
    const migration = env.TEST_MIGRATIONS.find((entry) => entry.name === name);
    if (!migration) throw new Error(`${name} not among the migrations`);
    for (const query of migration.queries) await env.DB.prepare(query).run();
  }
}

describe("the analytics migrations", () => {
  it("moves existing metadata rows to the interned layout, numbers parsed as the Worker parses them", async () => {
    await undoMigration();
    const teamId = newId("team");
    const chatbots = [newId("cb"), newId("cb")];
    await env.DB.prepare("INSERT INTO teams (id, name, created_at) VALUES (?, 't', ?)").bind(teamId, NOW).run();
    for (const id of chatbots)
      await env.DB.prepare("INSERT INTO chatbots (id, team_id, name, created_at, updated_at) VALUES (?, ?, 'b', ?, ?)")
        .bind(id, teamId, NOW, NOW)
        .run();
    const values = ["10", "-1.5", "1e3", "abc", " 1", "1e999", ".5", "01", "0", "same\u0000two", ""];
    const conversations: string[] = [];
    for (const [i, chatbotId] of [chatbots[0]!, chatbots[0]!, chatbots[1]!].entries()) {
      const participant = newId("part");
      const conversation = newId("conv");
      conversations.push(conversation);
      await env.DB.batch([
        env.DB.prepare(
          "INSERT INTO participants (id, team_id, chatbot_id, channel, identifier, created_at, updated_at) VALUES (?, ?, ?, 'web', ?, ?, ?)",
        ).bind(participant, teamId, chatbotId, `v${i}`, NOW, NOW),
        env.DB.prepare(
          "INSERT INTO conversations (id, team_id, chatbot_id, channel, participant_id, started_at) VALUES (?, ?, ?, 'web', ?, ?)",
        ).bind(conversation, teamId, chatbotId, participant, NOW),
        ...values.map((value, k) =>
          env.DB.prepare(
            "INSERT INTO conversation_metadata (conversation_id, chatbot_id, key, value, updated_at) VALUES (?, ?, ?, ?, ?)",
          ).bind(conversation, chatbotId, `chat-widget:k${k}`, value, NOW),
        ),
      ]);
    }

    // One old conversation has an outcome: its rows take the label's id and the start day.
    await env.DB.prepare("UPDATE conversations SET outcome = 'purchase' WHERE id = ?").bind(conversations[1]).run();

    await applyMigration();

    const stamped = await env.DB.prepare(
      `SELECT c.id AS id, MIN(v.day) AS first, MAX(v.day) AS last, COUNT(DISTINCT v.outcome) AS labels, MAX(o.label) AS label
       FROM metadata_values v JOIN conversations c ON c.seq = v.conv LEFT JOIN outcome_labels o ON o.id = v.outcome GROUP BY c.id ORDER BY c.seq`,
    ).all<{ id: string; first: number; last: number; labels: number; label: string | null }>();
    const day = Date.parse(NOW) / 86_400_000;
    expect(stamped.results).toEqual([
      { id: conversations[0], first: day, last: day, labels: 0, label: null },
      { id: conversations[1], first: day, last: day, labels: 1, label: "purchase" },
      { id: conversations[2], first: day, last: day, labels: 0, label: null },
    ]);

    const seqs = await env.DB.prepare("SELECT id, seq FROM conversations ORDER BY seq").all<{ id: string; seq: number }>();
    expect(seqs.results.map((row) => row.id)).toEqual(conversations);
    expect(new Set(seqs.results.map((row) => row.seq)).size).toBe(3);
    // One key row per (chatbot, key), not per conversation.
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM metadata_keys").first<{ n: number }>())!.n).toBe(values.length * 2);
    const rows = await env.DB.prepare(
      `SELECT c.id AS conversation_id, k.key, v.value, v.num FROM metadata_values v
       JOIN metadata_keys k ON k.id = v.key_id JOIN conversations c ON c.seq = v.conv ORDER BY c.seq, k.key`,
    ).all<{ conversation_id: string; key: string; value: string; num: number | null }>();
    expect(rows.results).toHaveLength(values.length * 3);
    for (const row of rows.results) {
      const k = Number(row.key.slice("chat-widget:k".length));
      expect(row.value).toBe(values[k]);
      expect(row.num, JSON.stringify(row.value)).toBe(numericValue(values[k]!));
    }
    // The old table's name still reads, through a view.
    const view = await env.DB.prepare("SELECT key, value FROM conversation_metadata WHERE conversation_id = ? AND key = 'chat-widget:k9'")
      .bind(conversations[0])
      .first();
    expect(view).toEqual({ key: "chat-widget:k9", value: "same\u0000two" });
    // A conversation inserted after the migration gets the next number.
    const participant = newId("part");
    const next = newId("conv");
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO participants (id, team_id, chatbot_id, channel, identifier, created_at, updated_at) VALUES (?, ?, ?, 'web', 'v9', ?, ?)",
      ).bind(participant, teamId, chatbots[0], NOW, NOW),
      env.DB.prepare(
        "INSERT INTO conversations (id, team_id, chatbot_id, channel, participant_id, started_at) VALUES (?, ?, ?, 'web', ?, ?)",
      ).bind(next, teamId, chatbots[0], participant, NOW),
    ]);
    const seq = await env.DB.prepare("SELECT seq FROM conversations WHERE id = ?").bind(next).first<{ seq: number }>();
    expect(seq!.seq).toBe(Math.max(...seqs.results.map((row) => row.seq)) + 1);

    // A changed outcome follows into the conversation's metadata rows, its label interned once.
    const labelsOf = (id: string) =>
      env.DB.prepare(
        `SELECT DISTINCT o.label AS label FROM metadata_values v JOIN conversations c ON c.seq = v.conv
         LEFT JOIN outcome_labels o ON o.id = v.outcome WHERE c.id = ?`,
      )
        .bind(id)
        .all<{ label: string | null }>();
    await env.DB.prepare("UPDATE conversations SET outcome = 'handoff' WHERE id = ?").bind(conversations[0]).run();
    expect((await labelsOf(conversations[0]!)).results).toEqual([{ label: "handoff" }]);
    await env.DB.prepare("UPDATE conversations SET outcome = NULL WHERE id = ?").bind(conversations[1]).run();
    expect((await labelsOf(conversations[1]!)).results).toEqual([{ label: null }]);
    await env.DB.prepare("UPDATE conversations SET outcome = 'handoff' WHERE id = ?").bind(conversations[2]).run();
    expect((await env.DB.prepare("SELECT label FROM outcome_labels ORDER BY label").all()).results).toEqual([
      { label: "handoff" },
      { label: "purchase" },
    ]);
    // Another chatbot's rows of the same conversation number are untouched (keys are per chatbot).
    expect((await labelsOf(conversations[2]!)).results).toEqual([{ label: "handoff" }]);
  });
});
