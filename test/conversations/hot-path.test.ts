import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, countD1Statements, sendMessageOk, startConversation } from "../support/api";
import { costOf } from "../support/cost";

const FIVE_PAIRS = { user_id: "u-1", plan: "pro", cart: '{"items":3}', locale: "lt-LT", page: "/checkout" };

/**
 * Rows written by the object per message, from the SQL cursors.
 * Measured: five unchanged pairs write 2 rows (the visitor message and the stand-in
 * bot's reply) and no D1 row; one changed pair among them writes 3.
 */
describe("a lean hot path", () => {
  it("writes only the two messages for five unchanged pairs, and nothing to D1", async () => {
    const conversation = await startConversation({ data: FIVE_PAIRS });
    const response = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "again", data: FIVE_PAIRS });
    expect(response.json.metadata.accepted).toEqual(Object.keys(FIVE_PAIRS));
    const cost = costOf(response);
    // A widget message reports these three counters at least.
    expect(Object.keys(cost)).toEqual(expect.arrayContaining(["doRowsRead", "doRowsWritten", "d1RowsWritten"]));
    expect(cost.doRowsWritten).toBe(2);
    expect(cost.d1RowsWritten).toBe(0);
  });

  it("reads no row either: small values are mirrored in the object's memory", async () => {
    const conversation = await startConversation({ data: FIVE_PAIRS });
    const bare = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "no data" });
    const response = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "again", data: FIVE_PAIRS });
    // The two message inserts read what a message without data reads; the pairs add nothing.
    expect(costOf(response).doRowsRead).toBe(costOf(bare).doRowsRead);
  });

  it("compares large values in SQL, and tells unchanged from changed", async () => {
    const large = "x".repeat(20_000);
    const conversation = await startConversation({ data: { ...FIVE_PAIRS, large } });
    const bare = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "no data" });
    const unchanged = await sendMessageOk(conversation.conversation_id, conversation.token, {
      text: "same",
      data: { ...FIVE_PAIRS, large },
    });
    expect(costOf(unchanged)).toMatchObject({ doRowsWritten: 2, doRowsRead: costOf(bare).doRowsRead + 1 });
    const changed = await sendMessageOk(conversation.conversation_id, conversation.token, {
      text: "changed",
      data: { large: `${large}y` },
    });
    expect(costOf(changed).doRowsWritten).toBe(3);
    const stored = await call("GET", `/v1/conversations/${conversation.conversation_id}/metadata/chat-widget:large`, {
      token: conversation.team.apiKey,
    });
    expect(stored.json.value).toBe(`${large}y`);
  });

  it("rebuilds the mirror from storage after the object is evicted", async () => {
    const conversation = await startConversation({ data: { ...FIVE_PAIRS, large: "z".repeat(5_000) } });
    await evictDurableObject(env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversation.conversation_id)));
    const unchanged = await sendMessageOk(conversation.conversation_id, conversation.token, {
      text: "after eviction",
      data: { ...FIVE_PAIRS, large: "z".repeat(5_000) },
    });
    expect(costOf(unchanged).doRowsWritten).toBe(2);
    expect(unchanged.json.reply.text).toContain("holds 6 metadata keys");
    const changed = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "new plan", data: { plan: "team" } });
    expect(costOf(changed).doRowsWritten).toBe(3);
  });

  it("writes one more row for one changed pair", async () => {
    const conversation = await startConversation({ data: FIVE_PAIRS });
    const response = await sendMessageOk(conversation.conversation_id, conversation.token, {
      text: "plan changed",
      data: { ...FIVE_PAIRS, plan: "enterprise" },
    });
    const cost = costOf(response);
    expect(cost.doRowsWritten).toBe(3);
    expect(cost.d1RowsWritten).toBe(0);
  });

  it("writes no D1 row for a customer field sent again unchanged", async () => {
    const conversation = await startConversation({
      data: { ...FIVE_PAIRS, email: "same@example.com", name: "Same" },
      timezone: "Europe/Vilnius",
    });
    const { result, statements } = await countD1Statements(() =>
      sendMessageOk(conversation.conversation_id, conversation.token, {
        text: "same again",
        data: { ...FIVE_PAIRS, email: "same@example.com", name: "Same" },
        timezone: "Europe/Vilnius",
      }),
    );
    expect(costOf(result)).toMatchObject({ doRowsWritten: 2, d1RowsWritten: 0 });
    expect(statements).toBe(0);
  });

  it("writes D1 when an email really changes", async () => {
    const conversation = await startConversation({ data: { ...FIVE_PAIRS, email: "before@example.com" } });
    const { result, statements } = await countD1Statements(() =>
      sendMessageOk(conversation.conversation_id, conversation.token, {
        text: "new email",
        data: { ...FIVE_PAIRS, email: "after@example.com" },
      }),
    );
    expect(costOf(result).d1RowsWritten).toBeGreaterThan(0);
    expect(statements).toBe(1);
    const row = await env.DB.prepare("SELECT email FROM participants WHERE id = ?").bind(conversation.participant_id).first();
    expect(row).toEqual({ email: "after@example.com" });
  });

  it("writes no D1 row when an invalid email arrives (it stays metadata)", async () => {
    const conversation = await startConversation({ data: { email: "good@example.com" } });
    const response = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "typo", data: { email: "good@" } });
    expect(costOf(response).d1RowsWritten).toBe(0);
  });

  it("makes one object call per message", async () => {
    const conversation = await startConversation({ data: FIVE_PAIRS });
    const namespace = env.CONVERSATIONS;
    const originalGet = namespace.get;
    let stubs = 0;
    namespace.get = function (this: typeof namespace, ...args: Parameters<typeof originalGet>) {
      stubs++;
      return originalGet.apply(this, args);
    };
    try {
      await sendMessageOk(conversation.conversation_id, conversation.token, { text: "one call", data: FIVE_PAIRS });
    } finally {
      namespace.get = originalGet;
    }
    expect(stubs).toBe(1);
  });
});
