import { describe, expect, it } from "vitest";
import { call, createChatbot, createTeam, expectProblem, startConversationWith } from "../support/api";

async function chatbot(name = "Playground bot") {
  const team = await createTeam();
  return createChatbot(team.apiKey, { name });
}

const start = (chatbotId: string, data: Record<string, string> = {}) =>
  startConversationWith(chatbotId, { data, timezone: "Europe/Paris" });

describe("GET /playground/:chatbot_id", () => {
  it("renders the page with the widget, a strict CSP and every name escaped", async () => {
    const name = `<script>alert("x")</script> & 'quotes'`;
    const bot = await chatbot(name);
    const response = await call("GET", `/playground/${bot.id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
    const csp = response.headers.get("Content-Security-Policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(response.text).not.toContain("<script>alert");
    expect(response.text).toContain("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;quotes&#39;");
    expect(response.text).toContain(`<script src="/widget.js" data-chatbot-id="${bot.id}" data-expose-conversation async></script>`);
    // No inline script or style at all: the CSP would refuse them.
    expect(response.text).not.toMatch(/<script>|<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    // The spec's DevTools snippet, ready to copy.
    expect(response.text).toContain("localStorage.setItem(&#34;octocom:data:user_id&#34;, &#34;test-123&#34;);");
  });

  it("answers an unknown chatbot with a 404 HTML page that escapes the id", async () => {
    const response = await call("GET", `/playground/${encodeURIComponent('nope"><img src=x onerror=alert(1)>')}`);
    expect(response.status).toBe(404);
    expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(response.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    expect(response.text).toContain("Chatbot not found");
    expect(response.text).not.toContain("<img");
  });
});

describe("GET /playground/api/conversations/:id", () => {
  it("returns only chat-widget: metadata and the customer record, to the conversation's token", async () => {
    const bot = await chatbot();
    const one = await start(bot.id, { user_id: "u-1", email: "ana@example.com" });
    const response = await call("GET", `/playground/api/conversations/${one.conversation_id}`, { token: one.token });
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.json.metadata).toEqual({ "chat-widget:user_id": "u-1", "chat-widget:email": "ana@example.com" });
    expect(response.json.customer).toEqual({ name: null, email: "ana@example.com", phone: null, timezone: "Europe/Paris" });
  });

  it("refuses a missing, forged or other conversation's token (401 problem)", async () => {
    const bot = await chatbot();
    const one = await start(bot.id);
    const two = await start(bot.id);
    const path = `/playground/api/conversations/${one.conversation_id}`;
    expectProblem(await call("GET", path), 401);
    expectProblem(await call("GET", path, { token: two.token }), 401);
    expectProblem(await call("GET", path, { token: `${one.token.slice(0, -2)}xx` }), 401);
  });
});
