import { evictDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE, call, createTeam, sendMessageOk, startConversation } from "../support/api";

/** Opens a live socket as a client would; collects what it receives. */
async function openLive(path: string, headers: Record<string, string> = {}) {
  const response = await exports.default.fetch(new Request(BASE + path, { headers: { Upgrade: "websocket", ...headers } }));
  if (response.status !== 101 || !response.webSocket) return { response, events: [] as any[], socket: null };
  const socket = response.webSocket;
  const events: any[] = [];
  socket.addEventListener("message", (event) => events.push(JSON.parse(event.data as string)));
  socket.accept();
  return { response, events, socket };
}

const until = async (check: () => boolean, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a live event");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe("live conversations over WebSockets", () => {
  it("sends the widget every new message: its own, the stand-in reply, bot and agent answers", async () => {
    const { team, conversation_id, token } = await startConversation();
    const live = await openLive(`/v1/widget/conversations/${conversation_id}/live?token=${encodeURIComponent(token)}`);
    expect(live.response.status).toBe(101);
    await sendMessageOk(conversation_id, token, { text: "hello", data: { plan: "pro" } });
    await call("POST", `/v1/conversations/${conversation_id}/messages`, { token: team.apiKey, body: { text: "An agent", role: "agent" } });
    await until(() => live.events.length >= 3);
    expect(live.events.map((event) => `${event.type}:${event.message?.role}`)).toEqual(["message:visitor", "message:bot", "message:agent"]);
    // A visitor's socket never gets metadata or state: those may hold what the team wrote.
    await call("PUT", `/v1/conversations/${conversation_id}/metadata/internal-note`, { token: team.apiKey, body: { value: "vip" } });
    await call("PATCH", `/v1/conversations/${conversation_id}`, { token: team.apiKey, body: { outcome: "handoff" } });
    await call("POST", `/v1/conversations/${conversation_id}/messages`, { token: team.apiKey, body: { text: "last" } });
    await until(() => live.events.length >= 4);
    expect(live.events.some((event) => event.type !== "message")).toBe(false);
    live.socket?.close(1000, "done");
  });

  it("gives the team's socket metadata changes and state too", async () => {
    const { team, conversation_id, token } = await startConversation();
    const live = await openLive(`/v1/conversations/${conversation_id}/live`, { Authorization: `Bearer ${team.apiKey}` });
    expect(live.response.status).toBe(101);
    await sendMessageOk(conversation_id, token, { text: "x", data: { page: "/cart" } });
    await call("PATCH", `/v1/conversations/${conversation_id}`, { token: team.apiKey, body: { status: "ended" } });
    await until(() => live.events.some((event) => event.type === "state"));
    expect(live.events).toContainEqual({ type: "metadata", metadata: { "chat-widget:page": "/cart" } });
    expect(live.events.find((event) => event.type === "state").state.status).toBe("ended");
  });

  it("refuses a missing or foreign token, another team's key, and a request that is not an upgrade", async () => {
    const { conversation_id } = await startConversation();
    const other = await startConversation();
    expect((await openLive(`/v1/widget/conversations/${conversation_id}/live`)).response.status).toBe(401);
    const foreign = await openLive(`/v1/widget/conversations/${conversation_id}/live?token=${encodeURIComponent(other.token)}`);
    expect(foreign.response.status).toBe(401);
    const stranger = await createTeam();
    expect(
      (await openLive(`/v1/conversations/${conversation_id}/live`, { Authorization: `Bearer ${stranger.apiKey}` })).response.status,
    ).toBe(404);
    const plain = await call("GET", `/v1/widget/conversations/${conversation_id}/live?token=${encodeURIComponent(other.token)}`);
    expect(plain.status).toBe(401);
    const notUpgrade = await call("GET", `/v1/conversations/${other.conversation_id}/live`, { token: other.team.apiKey });
    expect(notUpgrade.status).toBe(400);
  });

  it("keeps an idle socket across the object's eviction (hibernation): it wakes only to send", async () => {
    const { team, conversation_id, token } = await startConversation();
    const live = await openLive(`/v1/widget/conversations/${conversation_id}/live?token=${encodeURIComponent(token)}`);
    await evictDurableObject(env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversation_id)));
    await call("POST", `/v1/conversations/${conversation_id}/messages`, { token: team.apiKey, body: { text: "after a nap" } });
    await until(() => live.events.length >= 1);
    expect(live.events[0].message.text).toBe("after a nap");
  });
});
