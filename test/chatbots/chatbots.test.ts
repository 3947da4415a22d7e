import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createChatbot, createTeam, expectFieldErrors, expectProblem } from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";

describe("POST /v1/chatbots", () => {
  it("creates a chatbot with no allowed origins by default", async () => {
    const team = await createTeam();
    const response = await call("POST", "/v1/chatbots", { token: team.apiKey, body: { name: "  Helpdesk " } });
    expect(response.status).toBe(201);
    expect(response.json).toMatchObject({
      id: expect.stringMatching(/^cb_[0-9a-z]{26}$/),
      name: "Helpdesk",
      allowed_origins: [],
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(Number.isNaN(Date.parse(response.json.created_at))).toBe(false);
    // The owning team is implied by the key, never shown.
    expect(response.json).not.toHaveProperty("team_id");
    const row = await env.DB.prepare("SELECT team_id, name FROM chatbots WHERE id = ?").bind(response.json.id).first();
    expect(row).toEqual({ team_id: team.id, name: "Helpdesk" });
  });

  it("keeps allowed origins once each, in order", async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey, {
      name: "Shop",
      allowed_origins: ["https://shop.example.com", "http://localhost:3000", "https://shop.example.com"],
    });
    expect(chatbot.allowed_origins).toEqual(["https://shop.example.com", "http://localhost:3000"]);
  });

  const badOrigins = [
    "https://shop.example.com/",
    "https://shop.example.com/path",
    "https://shop.example.com?x=1",
    "ftp://shop.example.com",
    "shop.example.com",
    "*",
    "",
    "javascript:alert(1)",
  ];
  for (const origin of badOrigins) {
    it(`refuses the origin ${JSON.stringify(origin)}, naming it`, async () => {
      const team = await createTeam();
      const response = await call("POST", "/v1/chatbots", {
        token: team.apiKey,
        body: { name: "Shop", allowed_origins: ["https://fine.example.com", origin] },
      });
      expectFieldErrors(response, ["/allowed_origins/1"]);
    });
  }

  it("names every failing field", async () => {
    const team = await createTeam();
    const response = await call("POST", "/v1/chatbots", {
      token: team.apiKey,
      body: { allowed_origins: "https://a.example", color: "red" },
    });
    expectFieldErrors(response, ["/name", "/allowed_origins", "/color"]);
  });

  it("answers malformed JSON with 400", async () => {
    const team = await createTeam();
    const response = await call("POST", "/v1/chatbots", { token: team.apiKey, rawBody: "{'name': 'single quotes'}" });
    expect(expectProblem(response, 400).type).toBe("/problems/malformed-json");
  });

  it("refuses a body over 64 KiB with 413", async () => {
    const team = await createTeam();
    const response = await call("POST", "/v1/chatbots", { token: team.apiKey, rawBody: JSON.stringify({ name: "x".repeat(64 * 1024) }) });
    expectProblem(response, 413);
  });
});

describe("GET /v1/chatbots/:id", () => {
  it("reads the team's chatbot", async () => {
    const team = await createTeam();
    const created = await createChatbot(team.apiKey, { name: "Reader", allowed_origins: ["https://a.example"] });
    const response = await call("GET", `/v1/chatbots/${created.id}`, { token: team.apiKey });
    expect(response.status).toBe(200);
    expect(response.json).toEqual(created);
  });

  it("answers 404 for an unknown id", async () => {
    const team = await createTeam();
    expectProblem(await call("GET", "/v1/chatbots/cb_00000000000000000000000000", { token: team.apiKey }), 404);
  });
});

describe("PATCH /v1/chatbots/:id", () => {
  it("changes only the fields sent", async () => {
    const team = await createTeam();
    const created = await createChatbot(team.apiKey, { name: "Before", allowed_origins: ["https://a.example"] });
    const renamed = await call("PATCH", `/v1/chatbots/${created.id}`, { token: team.apiKey, body: { name: "After" } });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({ id: created.id, name: "After", allowed_origins: ["https://a.example"] });

    const moved = await call("PATCH", `/v1/chatbots/${created.id}`, {
      token: team.apiKey,
      body: { allowed_origins: ["https://b.example", "https://b.example"] },
    });
    expect(moved.json).toMatchObject({ name: "After", allowed_origins: ["https://b.example"] });

    const read = await call("GET", `/v1/chatbots/${created.id}`, { token: team.apiKey });
    expect(read.json).toMatchObject({ name: "After", allowed_origins: ["https://b.example"], created_at: (created as any).created_at });
  });

  it("can empty the allowed origins", async () => {
    const team = await createTeam();
    const created = await createChatbot(team.apiKey, { name: "Bot", allowed_origins: ["https://a.example"] });
    const response = await call("PATCH", `/v1/chatbots/${created.id}`, { token: team.apiKey, body: { allowed_origins: [] } });
    expect(response.json.allowed_origins).toEqual([]);
  });

  it("validates the fields sent", async () => {
    const team = await createTeam();
    const created = await createChatbot(team.apiKey);
    expectFieldErrors(await call("PATCH", `/v1/chatbots/${created.id}`, { token: team.apiKey, body: { name: "" } }), ["/name"]);
    expectFieldErrors(await call("PATCH", `/v1/chatbots/${created.id}`, { token: team.apiKey, body: { name: null } }), ["/name"]);
    expectFieldErrors(
      await call("PATCH", `/v1/chatbots/${created.id}`, { token: team.apiKey, body: { allowed_origins: ["https://a.example/x"] } }),
      ["/allowed_origins/0"],
    );
    expect((await call("GET", `/v1/chatbots/${created.id}`, { token: team.apiKey })).json.name).toBe("Support bot");
  });

  it("answers 404 for an unknown id", async () => {
    const team = await createTeam();
    expectProblem(await call("PATCH", "/v1/chatbots/cb_00000000000000000000000000", { token: team.apiKey, body: { name: "x" } }), 404);
  });
});

// Another team's chatbot answers as a missing one (GET, PATCH), and no refused request changes it.
describeApiKeyAuth({
  setup: async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey, { name: "Untouched", allowed_origins: ["https://mine.example"] });
    return { team, ids: { chatbot: chatbot.id } };
  },
  routes: [
    { method: "POST", path: () => "/v1/chatbots", body: () => ({ name: "x" }), teamWide: true },
    { method: "GET", path: ({ chatbot }) => `/v1/chatbots/${chatbot}` },
    {
      method: "PATCH",
      path: ({ chatbot }) => `/v1/chatbots/${chatbot}`,
      body: () => ({ name: "Stolen", allowed_origins: ["https://evil.example"] }),
    },
  ],
  unchanged: async ({ team, ids }) => {
    const read = await call("GET", `/v1/chatbots/${ids.chatbot}`, { token: team.apiKey });
    expect(read.json).toMatchObject({ name: "Untouched", allowed_origins: ["https://mine.example"] });
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM chatbots WHERE team_id = ?").bind(team.id).first("n");
    expect(count).toBe(1);
  },
});
