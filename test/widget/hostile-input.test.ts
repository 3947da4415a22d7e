import { describe, expect, it } from "vitest";
import { call, expectProblem, sendMessage, startConversation, visitorTexts } from "../support/api";

/** A JSON body text with `value` spliced in raw (deep nesting is built as text, not objects). */
const rawBody = (head: string, value: string, tail: string) => `${head}${value}${tail}`;
const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

describe("hostile widget input gets a clear answer and loses nothing", () => {
  for (const depth of [5_000, 100_000]) {
    it(`rejects a pair nested ${depth} deep with value_not_string and keeps the message`, async () => {
      const { team, conversation_id, token } = await startConversation();
      const response = await call("POST", `/v1/widget/conversations/${conversation_id}/messages`, {
        token,
        rawBody: rawBody('{"text":"deep","data":{"ok":"yes","deep":', nested(depth), "}}"),
        headers: { "Content-Type": "application/json" },
      });
      expect(response.status).toBe(201);
      expect(response.json.metadata.accepted).toEqual(["ok"]);
      expect(response.json.metadata.rejected).toEqual([{ key: "deep", reason: "value_not_string" }]);
      expect(await visitorTexts(team.apiKey, conversation_id)).toEqual(["deep"]);
    });
  }

  it("starts a conversation whose data nests deep, rejecting that pair only", async () => {
    const { chatbot } = await startConversation();
    const response = await call("POST", "/v1/widget/conversations", {
      rawBody: rawBody(`{"chatbot_id":"${chatbot.id}","data":{"a":"1","deep":{"x":`, nested(20_000), "}}}"),
      headers: { "Content-Type": "application/json" },
    });
    expect(response.status).toBe(201);
    expect(response.json.metadata.rejected).toEqual([{ key: "deep", reason: "value_not_string" }]);
  });

  it("turns a timezone that is not a string, or is too long, into the invalid_timezone warning", async () => {
    const { team, conversation_id, token } = await startConversation();
    for (const timezone of [42, { zone: "UTC" }, ["Europe/Paris"], true, "Europe/Paris".padEnd(101, "x"), "Mars/Olympus"]) {
      const response = await sendMessage(conversation_id, token, { text: `tz ${JSON.stringify(timezone)}`, timezone });
      expect(response.status).toBe(201);
      expect(response.json.metadata.warnings).toContainEqual({ key: "timezone", reason: "invalid_timezone" });
    }
    expect(await visitorTexts(team.apiKey, conversation_id)).toHaveLength(6);
    const started = await call("POST", "/v1/widget/conversations", {
      body: { chatbot_id: (await startConversation()).chatbot.id, timezone: 7 },
    });
    expect(started.status).toBe(201);
    expect(started.json.metadata.warnings).toContainEqual({ key: "timezone", reason: "invalid_timezone" });
  });

  it("answers 400 to a metadata key with undecodable percent-escapes", async () => {
    const { team, conversation_id } = await startConversation();
    for (const key of ["%E0%A4%A", "%ZZ", "bad%", "%C3%28"]) {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const response = await call(method, `/v1/conversations/${conversation_id}/metadata/${key}`, {
          token: team.apiKey,
          ...(method === "PUT" ? { body: { value: "v" } } : {}),
        });
        const problem = expectProblem(response, 400);
        expect(problem.detail).toContain("percent");
      }
    }
    const metadata = await call("GET", `/v1/conversations/${conversation_id}/metadata`, { token: team.apiKey });
    expect(metadata.json.metadata).toEqual({});
  });
});
