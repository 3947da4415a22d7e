import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { call, createChatbot, createTeam, sendMessage, sendMessageOk, startConversationWith } from "../support/api";
import { getParticipant } from "../support/participants";

const DAY = 24 * 60 * 60;
const now = () => Math.floor(Date.now() / 1000);

async function botWithSecret(settings: Record<string, unknown> = {}) {
  const team = await createTeam();
  const bot = await createChatbot(team.apiKey, { name: "Verified bot", ...settings });
  const secret = await identitySecret(team.apiKey, bot.id);
  return { team, bot, secret };
}

async function identitySecret(apiKey: string, chatbotId: string): Promise<string> {
  const response = await call("POST", `/v1/chatbots/${chatbotId}/identity-secret`, { token: apiKey });
  expect(response.status).toBe(201);
  expect(response.json.secret).toMatch(/^cis_[A-Za-z0-9_-]{43}$/);
  return response.json.secret;
}

type Claims = { sub?: string; email?: string; name?: string; phone?: string; iat?: number; exp?: number };

/** An identity token as a site signs it (HS256 with the chatbot's identity secret). */
function identityToken(secret: string, claims: Claims = {}): Promise<string> {
  const { iat = now(), exp = now() + 3600, ...rest } = claims;
  return new SignJWT({ sub: "user-1", ...rest })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
}

const invalid = { key: "identity_token", reason: "invalid_identity_token" };

describe("verified identity", () => {
  it("creates the verified participant from a valid token and writes its claims", async () => {
    const { team, bot, secret } = await botWithSecret();
    const token = await identityToken(secret, { sub: "user-7", email: "Ann@Example.com", name: "Ann" });
    const started = await startConversationWith(bot.id, { identity_token: token });
    expect(started.metadata.warnings).toEqual([]);
    const participant = await getParticipant(team.apiKey, started.participant_id);
    expect(participant).toMatchObject({ channel: "web", identifier: "user-7", verified: true, name: "Ann", email: "Ann@Example.com" });
    // The same identity on another device reaches the same participant.
    const elsewhere = await startConversationWith(bot.id, { identity_token: await identityToken(secret, { sub: "user-7" }) });
    expect(elsewhere.participant_id).toBe(started.participant_id);
  });

  it("refuses expired, too long-lived, iat-less, wrongly signed, alg none and foreign tokens: a warning, the message kept", async () => {
    const { team, bot, secret } = await botWithSecret();
    const other = await botWithSecret();
    const unsigned = `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")}.${btoa(
      JSON.stringify({ sub: "user-1", iat: now(), exp: now() + 60 }),
    ).replace(/=+$/, "")}.`;
    const noIat = await new SignJWT({ sub: "user-1" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(now() + 60)
      .sign(new TextEncoder().encode(secret));
    const bad = {
      expired: await identityToken(secret, { iat: now() - 7200, exp: now() - 3600 }),
      "lifetime over 7 days": await identityToken(secret, { iat: now(), exp: now() + 8 * DAY }),
      "no iat": noIat,
      "wrong secret": await identityToken(`cis_${"x".repeat(43)}`),
      "alg none": unsigned,
      "another chatbot's secret": await identityToken(other.secret),
      "not a string": 42,
      garbage: "a.b.c",
    };
    for (const [what, token] of Object.entries(bad)) {
      const started = await startConversationWith(bot.id, { identity_token: token, data: { plan: "pro" } });
      expect(started.metadata.warnings, what).toContainEqual(invalid);
      expect(started.metadata.accepted, what).toEqual(["plan"]);
      const participant = await getParticipant(team.apiKey, started.participant_id);
      expect(participant.verified, what).toBe(false);
      expect(participant.identifier, what).not.toBe("user-1");
      const message = await sendMessageOk(started.conversation_id, started.token, { text: `still here (${what})`, identity_token: token });
      expect(message.json.metadata.warnings, what).toContainEqual(invalid);
    }
  });

  it("accepts exactly a 7-day lifetime", async () => {
    const { bot, secret } = await botWithSecret();
    const started = await startConversationWith(bot.id, {
      identity_token: await identityToken(secret, { iat: now(), exp: now() + 7 * DAY }),
    });
    expect(started.metadata.warnings).toEqual([]);
  });

  it("rotates: the new secret works at once, the previous one for a grace period", async () => {
    const { bot, team, secret: old } = await botWithSecret();
    const fresh = await identitySecret(team.apiKey, bot.id);
    expect(fresh).not.toBe(old);
    for (const secret of [fresh, old]) {
      const started = await startConversationWith(bot.id, { identity_token: await identityToken(secret, { sub: "user-rot" }) });
      expect(started.metadata.warnings).toEqual([]);
    }
    // A second rotation retires the first secret.
    await identitySecret(team.apiKey, bot.id);
    const retired = await startConversationWith(bot.id, { identity_token: await identityToken(old) });
    expect(retired.metadata.warnings).toContainEqual(invalid);
    const chatbot = await call("GET", `/v1/chatbots/${bot.id}`, { token: team.apiKey });
    expect(chatbot.json.identity_secret_set).toBe(true);
    expect(JSON.stringify(chatbot.json)).not.toContain("cis_");
  });

  it("moves a conversation to the verified participant when a token arrives mid-conversation", async () => {
    const { team, bot, secret } = await botWithSecret();
    const started = await startConversationWith(bot.id, { data: { name: "Anonymous" } });
    const anonymous = started.participant_id;
    const message = await sendMessageOk(started.conversation_id, started.token, {
      text: "I signed in",
      identity_token: await identityToken(secret, { sub: "user-mid", email: "mid@example.com" }),
    });
    expect(message.json.metadata.warnings).toEqual([]);
    const conversation = await call("GET", `/v1/conversations/${started.conversation_id}`, { token: team.apiKey });
    expect(conversation.json.participant_id).not.toBe(anonymous);
    expect(conversation.json.customer.email).toBe("mid@example.com");
    const verified = await getParticipant(team.apiKey, conversation.json.participant_id);
    expect(verified).toMatchObject({ identifier: "user-mid", verified: true });
    // The anonymous participant is kept as it was.
    expect(await getParticipant(team.apiKey, anonymous)).toMatchObject({ name: "Anonymous", verified: false });
    // Later messages keep writing to the verified participant.
    await sendMessageOk(started.conversation_id, started.token, { text: "hello", data: { phone: "+14155550123" } });
    expect((await getParticipant(team.apiKey, verified.id)).phone).toBe("+14155550123");
  });

  describe("with identity_verification required", () => {
    it("stores a spoofed email as metadata but leaves the customer record alone, with a warning", async () => {
      const { team, bot, secret } = await botWithSecret({ identity_verification: "required" });
      const anonymous = await startConversationWith(bot.id, { data: { email: "spoof@example.com", user_id: "u1" } });
      expect(anonymous.metadata.accepted).toEqual(["email", "user_id"]);
      expect(anonymous.metadata.warnings).toContainEqual({ key: "email", reason: "unverified_customer_field" });
      expect((await getParticipant(team.apiKey, anonymous.participant_id)).email).toBeNull();
      const metadata = await call("GET", `/v1/conversations/${anonymous.conversation_id}/metadata`, { token: team.apiKey });
      expect(metadata.json.metadata["chat-widget:email"]).toBe("spoof@example.com");

      const token = await identityToken(secret, { sub: "user-req", email: "real@example.com" });
      const verified = await startConversationWith(bot.id, { identity_token: token, data: { email: "spoof@example.com" } });
      expect(verified.metadata.warnings).toContainEqual({ key: "email", reason: "unverified_customer_field" });
      expect((await getParticipant(team.apiKey, verified.participant_id)).email).toBe("real@example.com");
      const same = await sendMessage(verified.conversation_id, verified.token, {
        text: "x",
        identity_token: token,
        data: { email: "real@example.com" },
      });
      expect(same.json.metadata.warnings).toEqual([]);
    });

    it("is a chatbot setting that PATCH changes and GET shows", async () => {
      const team = await createTeam();
      const bot = await createChatbot(team.apiKey);
      expect((await call("GET", `/v1/chatbots/${bot.id}`, { token: team.apiKey })).json.identity_verification).toBe("off");
      const patched = await call("PATCH", `/v1/chatbots/${bot.id}`, { token: team.apiKey, body: { identity_verification: "required" } });
      expect(patched.json).toMatchObject({ identity_verification: "required", identity_secret_set: false });
      const wrong = await call("PATCH", `/v1/chatbots/${bot.id}`, { token: team.apiKey, body: { identity_verification: "maybe" } });
      expect(wrong.status).toBe(400);
    });
  });

  it("answers 404 for another team's chatbot's identity secret", async () => {
    const { bot } = await botWithSecret();
    const stranger = await createTeam();
    const response = await call("POST", `/v1/chatbots/${bot.id}/identity-secret`, { token: stranger.apiKey });
    expect(response.status).toBe(404);
  });
});
