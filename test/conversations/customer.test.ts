import { describe, expect, it } from "vitest";
import { getConversation, sendMessageOk, startConversation } from "../support/api";
import { costOf } from "../support/cost";
import { participantRow } from "../support/participants";

describe("rule 5: special keys write through to the customer record", () => {
  it("copies email, name and phone at the start", async () => {
    const conversation = await startConversation({ data: { email: "ann@example.com", name: "Ann Lee", phone: "+44 20 7946 0958" } });
    expect(conversation.metadata).toEqual({ accepted: ["email", "name", "phone"], rejected: [], warnings: [] });
    const read = await getConversation(conversation.team.apiKey, conversation.conversation_id);
    expect(read.customer).toEqual({ name: "Ann Lee", email: "ann@example.com", phone: "+442079460958" });
    // Stored both places: the metadata keeps the value as sent.
    expect(read.metadata["chat-widget:phone"]).toBe("+44 20 7946 0958");
  });

  it("copies them from a message, readable as soon as the widget has its answer", async () => {
    const conversation = await startConversation();
    await sendMessageOk(conversation.conversation_id, conversation.token, {
      text: "hi",
      data: { email: "bob@example.com", name: "Bob", phone: "+1 (415) 555-2671" },
    });
    // No alarm has run: the write-through is awaited before the answer.
    const read = await getConversation(conversation.team.apiKey, conversation.conversation_id);
    expect(read.customer).toEqual({ name: "Bob", email: "bob@example.com", phone: "+14155552671" });
    expect(await participantRow(conversation.participant_id)).toMatchObject({
      name: "Bob",
      email: "bob@example.com",
      phone: "+14155552671",
    });
  });

  it("follows a change and trims what it copies", async () => {
    const conversation = await startConversation({ data: { email: "old@example.com" } });
    await sendMessageOk(conversation.conversation_id, conversation.token, { text: "moved", data: { email: "  new@example.com " } });
    const read = await getConversation(conversation.team.apiKey, conversation.conversation_id);
    expect(read.customer.email).toBe("new@example.com");
    expect(read.metadata["chat-widget:email"]).toBe("  new@example.com ");
  });

  const invalid: [string, string, string][] = [
    ["email", "not-an-email", "invalid_email"],
    ["email", "two@@example.com", "invalid_email"],
    ["email", "<script>@example.com", "invalid_email"],
    ["phone", "12", "invalid_phone"],
    ["phone", "call me maybe", "invalid_phone"],
    ["phone", "020 7946 0958", "invalid_phone"], // no country: E.164 cannot be known
    ["name", "   ", "invalid_name"],
  ];
  for (const [key, value, reason] of invalid) {
    it(`warns of ${key} ${JSON.stringify(value)} with ${reason}, stores it as metadata only`, async () => {
      const valid = { email: "kept@example.com", phone: "+37060000000", name: "Kept" };
      const conversation = await startConversation({ data: valid });
      const response = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "update", data: { [key]: value } });
      expect(response.json.metadata).toEqual({ accepted: [key], rejected: [], warnings: [{ key, reason }] });
      const read = await getConversation(conversation.team.apiKey, conversation.conversation_id);
      expect(read.metadata[`chat-widget:${key}`]).toBe(value);
      expect(read.customer).toEqual({ email: "kept@example.com", phone: "+37060000000", name: "Kept" });
    });
  }

  it("warns at the start too, and leaves the customer empty", async () => {
    const conversation = await startConversation({ data: { email: "nope", phone: "nope" } });
    expect(conversation.metadata.warnings).toEqual([
      { key: "email", reason: "invalid_email" },
      { key: "phone", reason: "invalid_phone" },
    ]);
    const read = await getConversation(conversation.team.apiKey, conversation.conversation_id);
    expect(read.customer).toEqual({ name: null, email: null, phone: null });
  });

  it("keeps a name with odd characters intact in D1", async () => {
    const conversation = await startConversation();
    const name = "Zoë \u202eO'Brien\u202c <b>\u0000</b> 👩‍🚀";
    await sendMessageOk(conversation.conversation_id, conversation.token, { text: "hi", data: { name } });
    expect((await participantRow(conversation.participant_id)).name).toBe(name);
  });

  it("treats keys that only look special as ordinary metadata", async () => {
    const conversation = await startConversation({
      data: { Email: "x@example.com", "email ": "y@example.com", customer_email: "z@example.com" },
    });
    const read = await getConversation(conversation.team.apiKey, conversation.conversation_id);
    expect(read.customer.email).toBeNull();
  });
});

describe("timezone (participant data rule 5)", () => {
  it("stores a valid IANA timezone from a message on the participant", async () => {
    const conversation = await startConversation({ timezone: "Europe/Vilnius" });
    const response = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "hi", timezone: "America/New_York" });
    expect(response.json.metadata.warnings).toEqual([]);
    expect((await participantRow(conversation.participant_id)).timezone).toBe("America/New_York");
  });

  it("warns of an invalid timezone, stores the message and keeps the last good one", async () => {
    const conversation = await startConversation({ timezone: "Asia/Tokyo" });
    for (const timezone of ["Not/A_Zone", "Europe/Vilnius; DROP TABLE", "../../etc/passwd"]) {
      const response = await sendMessageOk(conversation.conversation_id, conversation.token, { text: `tz ${timezone}`, timezone });
      expect(response.json.message.text).toBe(`tz ${timezone}`);
      expect(response.json.metadata.warnings).toEqual([{ key: "timezone", reason: "invalid_timezone" }]);
    }
    expect((await participantRow(conversation.participant_id)).timezone).toBe("Asia/Tokyo");
  });

  it("writes D1 only when the timezone changes", async () => {
    const conversation = await startConversation({ timezone: "Europe/Vilnius" });
    const same = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "hi", timezone: "Europe/Vilnius" });
    expect(costOf(same).d1RowsWritten).toBe(0);
    const moved = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "hi", timezone: "Europe/Paris" });
    expect(costOf(moved).d1RowsWritten).toBeGreaterThan(0);
  });
});
