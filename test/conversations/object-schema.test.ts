import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { migrateObjectSchema, OBJECT_MIGRATIONS } from "../../src/conversations/object-schema";
import { sendMessageOk, startConversation } from "../support/api";

function objectOf(conversationId: string) {
  return env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversationId));
}

const versionOf = (sql: SqlStorage) => sql.exec<{ version: number }>("SELECT version FROM schema_version").one().version;

describe("the conversation object's schema", () => {
  it("is at the latest version in a started conversation", async () => {
    const { conversation_id } = await startConversation({ data: { plan: "pro" } });
    const version = await runInDurableObject(objectOf(conversation_id), (_object, state) => versionOf(state.storage.sql));
    expect(version).toBe(OBJECT_MIGRATIONS.length);
  });

  it("adds a column to a live object, keeping its rows, once", async () => {
    const { conversation_id, token } = await startConversation({ data: { plan: "pro" } });
    await sendMessageOk(conversation_id, token, { text: "hello" });
    const next = [...OBJECT_MIGRATIONS, "ALTER TABLE messages ADD COLUMN edited_at TEXT"];
    const result = await runInDurableObject(objectOf(conversation_id), (_object, state) => {
      const migrated = migrateObjectSchema(state.storage, next);
      const again = migrateObjectSchema(state.storage, next);
      const columns = state.storage.sql
        .exec<{ name: string }>("SELECT name FROM pragma_table_info('messages')")
        .toArray()
        .map((row) => row.name);
      const texts = state.storage.sql
        .exec<{ text: string }>("SELECT text FROM messages ORDER BY seq")
        .toArray()
        .map((row) => row.text);
      const metadata = state.storage.sql.exec<{ value: string }>("SELECT value FROM metadata WHERE key = 'chat-widget:plan'").one().value;
      return { migrated, again, version: versionOf(state.storage.sql), columns, texts, metadata };
    });
    expect(result).toMatchObject({
      migrated: OBJECT_MIGRATIONS.length + 1,
      again: OBJECT_MIGRATIONS.length + 1,
      version: OBJECT_MIGRATIONS.length + 1,
    });
    expect(result.columns).toContain("edited_at");
    expect(result.texts[0]).toBe("hello");
    expect(result.metadata).toBe("pro");
  });

  it("adopts an object made before versioning: its tables and rows stay, the version is recorded", async () => {
    const { conversation_id } = await startConversation({ data: { plan: "pro" } });
    const result = await runInDurableObject(objectOf(conversation_id), (_object, state) => {
      // Back to the tables as objects made before versioning have them (migration 1 alone).
      state.storage.sql.exec(`DROP TABLE schema_version;
        DROP INDEX messages_by_client_message_id;
        ALTER TABLE messages DROP COLUMN answer; ALTER TABLE messages DROP COLUMN client_message_id;
        ALTER TABLE conversation DROP COLUMN customer_pending; ALTER TABLE conversation DROP COLUMN verified_sub;
        ALTER TABLE conversation DROP COLUMN verified_claims;
        ALTER TABLE conversation DROP COLUMN status; ALTER TABLE conversation DROP COLUMN outcome;
        ALTER TABLE conversation DROP COLUMN ended_at;
        DROP TABLE trigger_state; DROP TABLE events; DROP TABLE event_outbox;`);
      const version = migrateObjectSchema(state.storage);
      const plan = state.storage.sql.exec<{ value: string }>("SELECT value FROM metadata WHERE key = 'chat-widget:plan'").one().value;
      return { version, plan };
    });
    expect(result).toEqual({ version: OBJECT_MIGRATIONS.length, plan: "pro" });
  });

  it("rolls back a failing migration with its version bump", async () => {
    const { conversation_id } = await startConversation();
    const result = await runInDurableObject(objectOf(conversation_id), (_object, state) => {
      const broken = [...OBJECT_MIGRATIONS, "ALTER TABLE messages ADD COLUMN a TEXT; ALTER TABLE nowhere ADD COLUMN b TEXT"];
      let failed = false;
      try {
        migrateObjectSchema(state.storage, broken);
      } catch {
        failed = true;
      }
      const columns = state.storage.sql
        .exec<{ name: string }>("SELECT name FROM pragma_table_info('messages')")
        .toArray()
        .map((row) => row.name);
      return { failed, version: versionOf(state.storage.sql), columns };
    });
    expect(result.failed).toBe(true);
    expect(result.version).toBe(OBJECT_MIGRATIONS.length);
    expect(result.columns).not.toContain("a");
  });
});
