import { describe, expect, it } from "vitest";
import { BASE, call, createChatbot, createTeam, expectProblem, startConversationWith } from "../support/api";

const SHOP = "https://shop.example.com";
const EVIL = "https://evil.example.net";

async function chatbotWithOrigins(allowed_origins: string[]) {
  const team = await createTeam();
  const chatbot = await createChatbot(team.apiKey, { name: "Shop bot", allowed_origins });
  return { team, chatbot };
}

function start(chatbotId: string, origin: string) {
  return call("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbotId }, headers: { Origin: origin } });
}

describe("widget CORS", () => {
  it("answers a preflight for the widget routes", async () => {
    for (const path of ["/v1/widget/conversations", "/v1/widget/conversations/conv_x/messages"]) {
      const response = await call("OPTIONS", path, {
        headers: { Origin: SHOP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type" },
      });
      expect(response.status).toBe(204);
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);
      expect(response.headers.get("Access-Control-Allow-Methods")).toContain("POST");
      expect(response.headers.get("Access-Control-Allow-Methods")).toContain("GET");
      const allowedHeaders = response.headers.get("Access-Control-Allow-Headers")!.toLowerCase();
      expect(allowedHeaders).toContain("authorization");
      expect(allowedHeaders).toContain("content-type");
      expect(response.headers.get("Vary")).toContain("Origin");
    }
  });

  it("gives an allowed origin Access-Control-Allow-Origin", async () => {
    const { chatbot } = await chatbotWithOrigins([SHOP, "https://other.example.com"]);
    const response = await start(chatbot.id, SHOP);
    expect(response.status).toBe(201);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);
    expect(response.headers.get("Vary")).toContain("Origin");

    const messages = await call("GET", `/v1/widget/conversations/${response.json.conversation_id}/messages`, {
      token: response.json.token,
      headers: { Origin: SHOP },
    });
    expect(messages.status).toBe(200);
    expect(messages.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);

    const posted = await call("POST", `/v1/widget/conversations/${response.json.conversation_id}/messages`, {
      token: response.json.token,
      body: { text: "hi" },
      headers: { Origin: SHOP },
    });
    expect(posted.status).toBe(201);
    expect(posted.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);
  });

  it("refuses a disallowed origin with 403 and no Access-Control-Allow-Origin", async () => {
    const { chatbot } = await chatbotWithOrigins([SHOP]);
    const response = await start(chatbot.id, EVIL);
    expectProblem(response, 403);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
    // A near miss is no match either.
    expectProblem(await start(chatbot.id, "https://shop.example.com.evil.example.net"), 403);
    expectProblem(await start(chatbot.id, "http://shop.example.com"), 403);
    expectProblem(await start(chatbot.id, "https://shop.example.com:8443"), 403);
  });

  it("refuses a disallowed origin on the message routes, even with a valid token", async () => {
    const { chatbot } = await chatbotWithOrigins([SHOP]);
    const conversation = await startConversationWith(chatbot.id);
    const post = await call("POST", `/v1/widget/conversations/${conversation.conversation_id}/messages`, {
      token: conversation.token,
      body: { text: "from elsewhere" },
      headers: { Origin: EVIL },
    });
    expectProblem(post, 403);
    expect(post.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const get = await call("GET", `/v1/widget/conversations/${conversation.conversation_id}/messages`, {
      token: conversation.token,
      headers: { Origin: EVIL },
    });
    expectProblem(get, 403);
    expect(get.headers.get("Access-Control-Allow-Origin")).toBeNull();
    // Nothing was stored by the refused message.
    const read = await call("GET", `/v1/widget/conversations/${conversation.conversation_id}/messages`, { token: conversation.token });
    expect(read.json.messages).toEqual([]);
  });

  it("allows any origin where allowed_origins is empty", async () => {
    const { chatbot } = await chatbotWithOrigins([]);
    for (const origin of [SHOP, EVIL, "http://localhost:5173"]) {
      const response = await start(chatbot.id, origin);
      expect(response.status).toBe(201);
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe(origin);
    }
  });

  it("always allows the service's own origin (the playground)", async () => {
    const { chatbot } = await chatbotWithOrigins([SHOP]);
    const response = await start(chatbot.id, BASE);
    expect(response.status).toBe(201);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(BASE);
  });

  it("follows a change of allowed_origins at once", async () => {
    const { team, chatbot } = await chatbotWithOrigins([SHOP]);
    expect((await start(chatbot.id, EVIL)).status).toBe(403);
    await call("PATCH", `/v1/chatbots/${chatbot.id}`, { token: team.apiKey, body: { allowed_origins: [SHOP, EVIL] } });
    expect((await start(chatbot.id, EVIL)).status).toBe(201);
    await call("PATCH", `/v1/chatbots/${chatbot.id}`, { token: team.apiKey, body: { allowed_origins: [SHOP] } });
    expect((await start(chatbot.id, EVIL)).status).toBe(403);
  });

  it("lets the widget read errors that hold no data, such as a rejected token", async () => {
    const { chatbot } = await chatbotWithOrigins([SHOP]);
    const started = await start(chatbot.id, SHOP);
    const rejected = await call("POST", `/v1/widget/conversations/${started.json.conversation_id}/messages`, {
      token: `${started.json.token}x`,
      body: { text: "hi" },
      headers: { Origin: SHOP },
    });
    expectProblem(rejected, 401);
    expect(rejected.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);
    const malformed = await call("POST", "/v1/widget/conversations", { rawBody: "{", headers: { Origin: SHOP } });
    expectProblem(malformed, 400);
    expect(malformed.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);
    // A refused origin still learns nothing.
    const refused = await start(chatbot.id, EVIL);
    expectProblem(refused, 403);
    expect(refused.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("sets no CORS header without an Origin (server-to-server calls)", async () => {
    const { chatbot } = await chatbotWithOrigins([SHOP]);
    const response = await call("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbot.id } });
    expect(response.status).toBe(201);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});
