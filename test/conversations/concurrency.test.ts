import { describe, expect, it } from "vitest";
import { getConversation, manyPairs, sendMessage, startConversation, visitorTexts } from "../support/api";

describe("rule 7: concurrent messages", () => {
  it("50 messages adding a key each to 180 pairs: exactly 200 result, and every answer tells the truth", async () => {
    const conversation = await startConversation({ data: manyPairs(180) });
    expect(conversation.metadata.accepted).toHaveLength(180);

    const keys = Array.from({ length: 50 }, (_, i) => `racer_${String(i).padStart(2, "0")}`);
    const responses = await Promise.all(
      keys.map((key) =>
        sendMessage(conversation.conversation_id, conversation.token, { text: `adds ${key}`, data: { [key]: `value of ${key}` } }),
      ),
    );
    for (const response of responses) expect(response.status).toBe(201);

    const acceptedKeys = keys.filter((_, i) => responses[i]!.json.metadata.accepted.includes(keys[i]));
    const rejectedKeys = keys.filter((_, i) =>
      responses[i]!.json.metadata.rejected.some(
        (r: { key: string; reason: string }) => r.key === keys[i] && r.reason === "pair_limit_reached",
      ),
    );
    expect(acceptedKeys).toHaveLength(20);
    expect(rejectedKeys).toHaveLength(30);
    // Each answer says one thing or the other, never both.
    expect(new Set([...acceptedKeys, ...rejectedKeys]).size).toBe(50);

    const stored = (await getConversation(conversation.team.apiKey, conversation.conversation_id)).metadata;
    expect(Object.keys(stored)).toHaveLength(200);
    for (const key of acceptedKeys) expect(stored[`chat-widget:${key}`]).toBe(`value of ${key}`);
    for (const key of rejectedKeys) expect(stored).not.toHaveProperty(`chat-widget:${key}`);

    // Every message was stored, refused pair or not.
    const texts = await visitorTexts(conversation.team.apiKey, conversation.conversation_id, 1000);
    expect(texts.sort()).toEqual(keys.map((key) => `adds ${key}`).sort());
  });

  it("concurrent updates of one key lose no message, and the last applied value wins", async () => {
    const conversation = await startConversation({ data: { counter: "start" } });
    const values = Array.from({ length: 30 }, (_, i) => `value-${i}`);
    const responses = await Promise.all(
      values.map((value) => sendMessage(conversation.conversation_id, conversation.token, { text: value, data: { counter: value } })),
    );
    for (const response of responses) {
      expect(response.status).toBe(201);
      expect(response.json.metadata.accepted).toEqual(["counter"]);
    }
    const texts = await visitorTexts(conversation.team.apiKey, conversation.conversation_id, 1000);
    expect([...texts].sort()).toEqual([...values].sort());
    // The stored value is the one carried by the message stored last.
    const stored = (await getConversation(conversation.team.apiKey, conversation.conversation_id)).metadata;
    expect(stored).toEqual({ "chat-widget:counter": texts.at(-1) });
  });

  it("concurrent customer changes leave the record at the last applied value", async () => {
    const conversation = await startConversation();
    const emails = Array.from({ length: 10 }, (_, i) => `person${i}@example.com`);
    await Promise.all(
      emails.map((email) => sendMessage(conversation.conversation_id, conversation.token, { text: email, data: { email } })),
    );
    const last = (await visitorTexts(conversation.team.apiKey, conversation.conversation_id)).at(-1);
    const read = await getConversation(conversation.team.apiKey, conversation.conversation_id);
    expect(read.customer.email).toBe(last);
    expect(read.metadata["chat-widget:email"]).toBe(last);
  });
});
