import { describe, expect, it } from "vitest";
import { call, sendMessage, startConversation } from "../support/api";

describe("smoke", () => {
  it("health", async () => {
    const r = await call("GET", "/healthz");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ok: true });
  });
  it("starts and posts", async () => {
    const conv = await startConversation({ data: { user_id: "1", email: "a@example.com" } });
    expect(conv.metadata.accepted).toEqual(["user_id", "email"]);
    const r = await sendMessage(conv.conversation_id, conv.token, { text: "hi", data: { user_id: "1", plan: "x" } });
    expect(r.status).toBe(201);
    console.log(r.headers.get("Chat-Context-Cost"), JSON.stringify(r.json));
    const g = await call("GET", `/v1/conversations/${conv.conversation_id}`, { token: conv.team.apiKey });
    console.log(JSON.stringify(g.json));
    expect(g.json.customer.email).toBe("a@example.com");
  });
});
