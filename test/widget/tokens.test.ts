import { describe, expect, it } from "vitest";
import { signConversationToken } from "../../src/shared/auth";
import {
  call,
  countD1Statements,
  expectProblem,
  sendMessage,
  startConversation,
  startConversationWith,
  TOKEN_SECRET,
} from "../support/api";

const base64url = {
  encode: (text: string) => btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, ""),
  decode: (text: string) => atob(text.replaceAll("-", "+").replaceAll("_", "/")),
};

/** Replaces the character at `index` with another of the base64url alphabet. */
function changeCharacter(text: string, index: number): string {
  const replacement = text[index] === "A" ? "B" : "A";
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

/** The two token routes, each as a function of (conversation id, token). */
const tokenRoutes: [string, (id: string, token: string | null) => ReturnType<typeof call>][] = [
  ["POST messages", (id, token) => call("POST", `/v1/widget/conversations/${id}/messages`, { token, body: { text: "hello" } })],
  ["GET messages", (id, token) => call("GET", `/v1/widget/conversations/${id}/messages`, { token })],
];

describe("conversation tokens", () => {
  for (const [name, route] of tokenRoutes) {
    describe(name, () => {
      it("admits the conversation's own token", async () => {
        const conversation = await startConversation();
        const response = await route(conversation.conversation_id, conversation.token);
        expect(response.status).toBeLessThan(300);
      });

      it("refuses a missing token with 401", async () => {
        const conversation = await startConversation();
        const response = await route(conversation.conversation_id, null);
        expectProblem(response, 401);
        expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
      });

      it("refuses garbage with 401", async () => {
        const conversation = await startConversation();
        for (const garbage of ["garbage", "a.b", "a.b.c", ".", `${conversation.token}.x`, "%%%.%%%", conversation.token.split(".")[0]!]) {
          expectProblem(await route(conversation.conversation_id, garbage), 401);
        }
      });

      it("refuses a tampered payload with 401", async () => {
        const conversation = await startConversation();
        const [payload, signature] = conversation.token.split(".") as [string, string];
        const claims = JSON.parse(base64url.decode(payload));
        // Same conversation, another participant: the signature no longer fits.
        const tampered = base64url.encode(JSON.stringify({ ...claims, p: "part_00000000000000000000000000" }));
        expectProblem(await route(conversation.conversation_id, `${tampered}.${signature}`), 401);
        expectProblem(await route(conversation.conversation_id, `${changeCharacter(payload, 5)}.${signature}`), 401);
      });

      it("refuses a tampered signature with 401, however it is spelt", async () => {
        const conversation = await startConversation();
        const [payload, signature] = conversation.token.split(".") as [string, string];
        expectProblem(await route(conversation.conversation_id, `${payload}.${changeCharacter(signature, 10)}`), 401);
        expectProblem(await route(conversation.conversation_id, `${payload}.${signature.slice(0, -1)}`), 401);
        expectProblem(await route(conversation.conversation_id, `${payload}.${signature}A`), 401);
        // The last character carries two spare bits: every other spelling of it must fail too.
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for (const last of alphabet) {
          if (last === signature.at(-1)) continue;
          const response = await route(conversation.conversation_id, `${payload}.${signature.slice(0, -1)}${last}`);
          expect(response.status, `signature ending in ${last}`).toBe(401);
        }
      });

      it("refuses a token signed with another secret with 401", async () => {
        const conversation = await startConversation();
        const [payload] = conversation.token.split(".") as [string, string];
        const claims = JSON.parse(base64url.decode(payload));
        const forged = await signConversationToken("some-other-secret", { c: claims.c, b: claims.b, t: claims.t, p: claims.p });
        expectProblem(await route(conversation.conversation_id, forged), 401);
        // The same claims with the deployment's secret pass: only the secret differed.
        const genuine = await signConversationToken(TOKEN_SECRET, { c: claims.c, b: claims.b, t: claims.t, p: claims.p });
        expect((await route(conversation.conversation_id, genuine)).status).toBeLessThan(300);
      });

      it("refuses the token of conversation A on conversation B with 401", async () => {
        const a = await startConversation();
        const b = await startConversationWith(a.chatbot.id);
        expectProblem(await route(b.conversation_id, a.token), 401);
        // And across chatbots and teams too.
        const c = await startConversation();
        expectProblem(await route(c.conversation_id, a.token), 401);
      });
    });
  }

  it("writes nothing when the token is refused", async () => {
    const a = await startConversation();
    const b = await startConversationWith(a.chatbot.id);
    await sendMessage(b.conversation_id, a.token, { text: "sneaky", data: { planted: "yes" } });
    const messages = await call("GET", `/v1/widget/conversations/${b.conversation_id}/messages`, { token: b.token });
    expect(messages.json.messages).toEqual([]);
    const metadata = await call("GET", `/v1/conversations/${b.conversation_id}/metadata`, { token: a.team.apiKey });
    expect(metadata.json.metadata).toEqual({});
  });

  it("is checked without reading the database", async () => {
    const conversation = await startConversation();
    const read = await countD1Statements(() =>
      call("GET", `/v1/widget/conversations/${conversation.conversation_id}/messages`, { token: conversation.token }),
    );
    expect(read.result.status).toBe(200);
    expect(read.statements).toBe(0);
    const post = await countD1Statements(() =>
      sendMessage(conversation.conversation_id, conversation.token, { text: "hi", data: { a: "1" } }),
    );
    expect(post.result.status).toBe(201);
    expect(post.statements).toBe(0);
    // The counter does see statements, so the zeros above mean something.
    const api = await countD1Statements(() =>
      call("GET", `/v1/conversations/${conversation.conversation_id}`, { token: conversation.team.apiKey }),
    );
    expect(api.statements).toBeGreaterThan(0);
  });
});
