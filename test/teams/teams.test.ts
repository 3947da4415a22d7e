import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createChatbot, createTeam, expectFieldErrors, expectProblem } from "../support/api";

const API_KEY_SHAPE = /^cck_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

describe("POST /v1/admin/teams", () => {
  it("creates a team and shows its API key once", async () => {
    const response = await call("POST", "/v1/admin/teams", { token: ADMIN_TOKEN, body: { name: "  Acme Shoes  " } });
    expect(response.status).toBe(201);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(response.json.team).toEqual({ id: expect.stringMatching(/^team_[0-9a-z]{26}$/), name: "Acme Shoes" });
    expect(response.json.api_key).toMatch(API_KEY_SHAPE);

    const team = await env.DB.prepare("SELECT name FROM teams WHERE id = ?").bind(response.json.team.id).first();
    expect(team).toEqual({ name: "Acme Shoes" });
  });

  it("stores only the key's hash", async () => {
    const team = await createTeam();
    const rows = (await env.DB.prepare("SELECT * FROM api_keys WHERE team_id = ?").bind(team.id).all()).results;
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.key_hash).toBe(await sha256Hex(team.apiKey));
    const secret = team.apiKey.split("_").slice(2).join("_");
    for (const value of Object.values(row)) {
      expect(String(value)).not.toContain(secret);
    }
  });

  it("gives each team its own working key", async () => {
    const first = await createTeam();
    const second = await createTeam();
    expect(first.apiKey).not.toBe(second.apiKey);
    expect(first.id).not.toBe(second.id);
    // The key works on the API straight away.
    const chatbot = await createChatbot(first.apiKey);
    expect(chatbot.id).toMatch(/^cb_/);
  });

  it("gives the team's key scope write and the name Initial key", async () => {
    const team = await createTeam();
    const listed = await call("GET", "/v1/api-keys", { token: team.apiKey });
    expect(listed.json.api_keys).toEqual([
      { id: team.apiKey.slice(4, 20), name: "Initial key", scope: "write", created_at: expect.any(String) },
    ]);
    const row = await env.DB.prepare("SELECT name, scope, revoked_at FROM api_keys WHERE team_id = ?").bind(team.id).first();
    expect(row).toEqual({ name: "Initial key", scope: "write", revoked_at: null });
    // A write key: it may make the team's other keys.
    expect((await call("POST", "/v1/api-keys", { token: team.apiKey, body: { name: "Reader", scope: "read" } })).status).toBe(201);
  });

  describe("admin token", () => {
    const cases: [string, Record<string, string>][] = [
      ["no Authorization header", {}],
      ["an empty bearer", { Authorization: "Bearer " }],
      ["a wrong token", { Authorization: "Bearer not-the-admin-token" }],
      ["a prefix of the admin token", { Authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }],
      ["the admin token with more after it", { Authorization: `Bearer ${ADMIN_TOKEN}x` }],
      ["another scheme", { Authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` }],
      ["the token without a scheme", { Authorization: ADMIN_TOKEN }],
    ];
    for (const [name, headers] of cases) {
      it(`refuses ${name} with 401`, async () => {
        const response = await call("POST", "/v1/admin/teams", { headers, body: { name: "Intruders" } });
        const problem = expectProblem(response, 401);
        expect(problem.type).toBe("/problems/unauthorized");
        expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
      });
    }

    it("refuses a team API key", async () => {
      const team = await createTeam();
      expectProblem(await call("POST", "/v1/admin/teams", { token: team.apiKey, body: { name: "x" } }), 401);
    });

    it("checks the token before reading the body", async () => {
      expectProblem(await call("POST", "/v1/admin/teams", { rawBody: "{not json", headers: { "Content-Type": "application/json" } }), 401);
    });

    it("creates nothing when refused", async () => {
      const name = `refused-${crypto.randomUUID()}`;
      await call("POST", "/v1/admin/teams", { token: "wrong", body: { name } });
      expect(await env.DB.prepare("SELECT id FROM teams WHERE name = ?").bind(name).first()).toBeNull();
    });
  });

  describe("validation", () => {
    it("needs a name", async () => {
      expectFieldErrors(await call("POST", "/v1/admin/teams", { token: ADMIN_TOKEN, body: {} }), ["/name"]);
    });

    it("refuses a blank name", async () => {
      expectFieldErrors(await call("POST", "/v1/admin/teams", { token: ADMIN_TOKEN, body: { name: "   " } }), ["/name"]);
    });

    it("refuses a name that is not a string", async () => {
      expectFieldErrors(await call("POST", "/v1/admin/teams", { token: ADMIN_TOKEN, body: { name: 42 } }), ["/name"]);
    });

    it("refuses a name over 200 characters", async () => {
      expectFieldErrors(await call("POST", "/v1/admin/teams", { token: ADMIN_TOKEN, body: { name: "n".repeat(201) } }), ["/name"]);
    });

    it("refuses unknown fields", async () => {
      const response = await call("POST", "/v1/admin/teams", { token: ADMIN_TOKEN, body: { name: "x", plan: "gold", "a/b": 1 } });
      const problem = expectFieldErrors(response, ["/plan", "/a~1b"]);
      expect(problem.type).toBe("/problems/validation-failed");
    });

    it("refuses a body that is not an object", async () => {
      // RFC 6901: the empty pointer is the whole document.
      const problem = expectFieldErrors(await call("POST", "/v1/admin/teams", { token: ADMIN_TOKEN, body: ["name"] }), [""]);
      expect(problem.detail).toContain("(root)");
    });

    it("answers malformed JSON with 400", async () => {
      const response = await call("POST", "/v1/admin/teams", {
        token: ADMIN_TOKEN,
        rawBody: '{"name": "Acme"',
        headers: { "Content-Type": "application/json" },
      });
      expect(expectProblem(response, 400).type).toBe("/problems/malformed-json");
    });

    it("answers an empty body with 400", async () => {
      expect(expectProblem(await call("POST", "/v1/admin/teams", { token: ADMIN_TOKEN, rawBody: "" }), 400).type).toBe(
        "/problems/malformed-json",
      );
    });

    it("refuses a body over its 4 KiB limit with 413 before parsing it", async () => {
      // Not even JSON: a 400 here would mean the body was parsed first.
      const response = await call("POST", "/v1/admin/teams", { token: ADMIN_TOKEN, rawBody: "x".repeat(4 * 1024 + 1) });
      const problem = expectProblem(response, 413);
      expect(problem.type).toBe("/problems/payload-too-large");
      expect(problem.limit_bytes).toBe(4 * 1024);
    });
  });
});
