import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE, call, countD1Statements, createTeam, sendMessageOk, startConversationWith } from "../support/api";
import { createParticipant, teamWithChatbot } from "../support/participants";

/** A browser-like page request to the Worker. */
async function page(path: string, cookie?: string) {
  const headers: Record<string, string> = {};
  if (cookie) headers.Cookie = cookie;
  const response = await exports.default.fetch(new Request(BASE + path, { headers, redirect: "manual" }));
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Signs in through the sign-in form and returns the session cookie. */
async function signIn(apiKey: string): Promise<string> {
  const response = await exports.default.fetch(
    new Request(`${BASE}/dashboard/login`, {
      method: "POST",
      headers: { Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ api_key: apiKey, next: "/dashboard/participants" }).toString(),
      redirect: "manual",
    }),
  );
  expect(response.status).toBe(303);
  return response.headers.get("Set-Cookie")!.split(";")[0]!;
}

async function readKey(apiKey: string): Promise<string> {
  const created = await call("POST", "/v1/api-keys", { token: apiKey, body: { name: "viewer", scope: "read" } });
  expect(created.status).toBe(201);
  return created.json.key;
}

function importCsv(apiKey: string, chatbotId: string, csv: string) {
  return call("POST", `/v1/participants/import?chatbot_id=${chatbotId}`, {
    token: apiKey,
    rawBody: csv,
    headers: { "Content-Type": "text/csv" },
  });
}

/** The ids the page links to, in page order. */
const linkedParticipants = (html: string) => [...html.matchAll(/href="\/dashboard\/participants\/(part_[0-9a-z]{26})"/g)].map((m) => m[1]);

describe("dashboard participants list", () => {
  it("lists the team's participants newest first, with their columns, and none of another team's", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const first = await createParticipant(apiKey, chatbot.id, { channel: "whatsapp", identifier: "+37060000001", name: "Ann" });
    const second = await createParticipant(apiKey, chatbot.id, { identifier: "bob-1", email: "bob@example.com" });
    const other = await teamWithChatbot();
    const foreign = await createParticipant(other.apiKey, other.chatbot.id, { identifier: "not-yours" });
    const cookie = await signIn(apiKey);
    const list = await page("/dashboard/participants", cookie);
    expect(list.status).toBe(200);
    expect(list.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    expect(linkedParticipants(list.text)).toEqual([second.id, first.id]);
    expect(list.text).not.toContain(foreign.id);
    expect(list.text).not.toContain("not-yours");
    for (const text of ["+37060000001", "whatsapp", "Ann", "bob@example.com", "Data bot", "Verified", "Updated"])
      expect(list.text).toContain(text);
    // Write controls for a write key: create, export for the first chatbot, import.
    expect(list.text).toContain("data-participant-create");
    expect(list.text).toContain(`href="/v1/participants/export?chatbot_id=${chatbot.id}"`);
    expect(list.text).toContain("data-csv-import");
  });

  it("filters by chatbot, channel and identifier, and ignores filters that do not parse or are not the team's", async () => {
    const { apiKey, chatbot, team } = await teamWithChatbot();
    const secondBot = await call("POST", "/v1/chatbots", { token: apiKey, body: { name: "Second bot" } });
    const a = await createParticipant(apiKey, chatbot.id, { channel: "web", identifier: "same" });
    const b = await createParticipant(apiKey, chatbot.id, { channel: "api", identifier: "same" });
    const c = await createParticipant(apiKey, secondBot.json.id, { channel: "api", identifier: "other" });
    const cookie = await signIn(team.apiKey);
    expect(linkedParticipants((await page(`/dashboard/participants?chatbot_id=${secondBot.json.id}`, cookie)).text)).toEqual([c.id]);
    expect(linkedParticipants((await page("/dashboard/participants?channel=api", cookie)).text)).toEqual([c.id, b.id]);
    expect(linkedParticipants((await page("/dashboard/participants?identifier=same", cookie)).text)).toEqual([b.id, a.id]);
    const both = await page(`/dashboard/participants?chatbot_id=${chatbot.id}&channel=web&identifier=same`, cookie);
    expect(linkedParticipants(both.text)).toEqual([a.id]);
    // The export link follows the chosen chatbot.
    const filtered = await page(`/dashboard/participants?chatbot_id=${secondBot.json.id}`, cookie);
    expect(filtered.text).toContain(`href="/v1/participants/export?chatbot_id=${secondBot.json.id}"`);
    const other = await teamWithChatbot();
    for (const query of [`chatbot_id=${other.chatbot.id}`, "channel=NOT%20A%20CHANNEL", "cursor=junk", "identifier=%00"]) {
      const ignored = await page(`/dashboard/participants?${query}`, cookie);
      expect(ignored.status).toBe(200);
      expect(linkedParticipants(ignored.text)).toEqual([c.id, b.id, a.id]);
    }
    expect((await page("/dashboard/participants?identifier=nobody", cookie)).text).toContain("No participants match these filters.");
  });

  it("pages by cursor, 50 to a page, keeping the filters", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const rows = Array.from({ length: 55 }, (_, i) => `person-${String(i).padStart(2, "0")},api,`);
    const imported = await importCsv(apiKey, chatbot.id, `identifier,channel,name\n${rows.join("\n")}\n`);
    expect(imported.json).toMatchObject({ created: 55 });
    const cookie = await signIn(apiKey);
    const first = await page(`/dashboard/participants?chatbot_id=${chatbot.id}`, cookie);
    const firstIds = linkedParticipants(first.text);
    expect(firstIds).toHaveLength(50);
    const next = /href="(\?chatbot_id=[^"]*cursor=[^"]*)">Next page/.exec(first.text)![1]!.replaceAll("&amp;", "&");
    expect(next).toContain(`chatbot_id=${chatbot.id}`);
    const second = await page(`/dashboard/participants${next}`, cookie);
    const secondIds = linkedParticipants(second.text);
    expect(secondIds).toHaveLength(5);
    expect(new Set([...firstIds, ...secondIds]).size).toBe(55);
    expect(second.text).toContain("First page");
    expect(second.text).not.toContain("Next page");
  });

  it("reads the list in two statements after the session's", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    for (let i = 0; i < 3; i++) await createParticipant(apiKey, chatbot.id);
    const cookie = await signIn(apiKey);
    const { result, statements } = await countD1Statements(() => page("/dashboard/participants", cookie));
    expect(result.status).toBe(200);
    // The session's key, the team's chatbots, one page of participants.
    expect(statements).toBe(3);
  });

  it("asks a team without chatbots to create one first", async () => {
    const team = await createTeam();
    const list = await page("/dashboard/participants", await signIn(team.apiKey));
    expect(list.status).toBe(200);
    expect(list.text).toContain("No participants yet.");
    expect(list.text).toContain('href="/dashboard/chatbots"');
    expect(list.text).not.toContain("data-participant-create");
  });
});

describe("dashboard participant page", () => {
  it("shows the customer record, the data for editing at its version, and the conversations newest first", async () => {
    const { apiKey, chatbot } = await teamWithChatbot({ type: "object", properties: { plan: { type: "string" } } });
    const started = await startConversationWith(chatbot.id, {
      data: { name: "Dana", email: "dana@example.com" },
      timezone: "Europe/Vilnius",
    });
    await sendMessageOk(started.conversation_id, started.token, { text: "hi" });
    const later = await startConversationWith(chatbot.id, { visitor_id: started.visitor_id });
    expect(later.participant_id).toBe(started.participant_id);
    await call("PUT", `/v1/participants/${started.participant_id}/data`, { token: apiKey, body: { plan: "pro" } });
    const cookie = await signIn(apiKey);
    const view = await page(`/dashboard/participants/${started.participant_id}`, cookie);
    expect(view.status).toBe(200);
    expect(view.text).toContain('<h2 id="customer-heading">Customer</h2>');
    expect(view.text).toContain('<h2 id="data-heading">Participant data</h2>');
    expect(view.text).toContain('<h2 id="conversations-heading">Conversations</h2>');
    expect(view.text).toMatch(/<input id="c-name" name="name" type="text" value="Dana"/);
    expect(view.text).toContain('value="dana@example.com"');
    expect(view.text).toContain('value="Europe/Vilnius"');
    expect(view.text).toContain("Not verified");
    expect(view.text).toContain('data-version="2"');
    expect(view.text).toContain("{\n  &quot;plan&quot;: &quot;pro&quot;\n}");
    expect(view.text).toContain("The chatbot&#39;s data schema");
    const conversations = [...view.text.matchAll(/href="\/dashboard\/conversations\/(conv_[0-9a-z]{26})"/g)].map((m) => m[1]);
    expect(conversations).toEqual([later.conversation_id, started.conversation_id]);
    expect(view.text).toContain(`href="/dashboard/chatbots/${chatbot.id}"`);
  });

  it("reads the page in three statements after the session's", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id);
    const cookie = await signIn(apiKey);
    const { result, statements } = await countD1Statements(() => page(`/dashboard/participants/${participant.id}`, cookie));
    expect(result.status).toBe(200);
    // The session's key, the participant, its chatbot, its conversations.
    expect(statements).toBe(4);
  });

  it("shows at most 20 conversations, and says so", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const first = await startConversationWith(chatbot.id);
    for (let i = 0; i < 20; i++) await startConversationWith(chatbot.id, { visitor_id: first.visitor_id });
    const view = await page(`/dashboard/participants/${first.participant_id}`, await signIn(apiKey));
    expect([...view.text.matchAll(/href="\/dashboard\/conversations\//g)]).toHaveLength(20);
    expect(view.text).not.toContain(first.conversation_id);
    expect(view.text).toContain("The 20 newest conversations are shown.");
  });

  it("answers the same 404 page for another team's participant, a missing id and junk", async () => {
    const { apiKey } = await teamWithChatbot();
    const other = await teamWithChatbot();
    const foreign = await createParticipant(other.apiKey, other.chatbot.id, { name: "Secret Name" });
    const cookie = await signIn(apiKey);
    const bodies = new Set<string>();
    for (const id of [foreign.id, "part_00000000000000000000000000", "junk", "%3Cscript%3E"]) {
      const answer = await page(`/dashboard/participants/${id}`, cookie);
      expect(answer.status).toBe(404);
      expect(answer.headers.get("Content-Type")).toMatch(/^text\/html/);
      expect(answer.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
      expect(answer.text).toContain("Participant not found");
      expect(answer.text).not.toContain("Secret Name");
      bodies.add(answer.text);
    }
    expect(bodies.size).toBe(1);
  });

  it("renders hostile values as text: markup, bidi overrides and a 50,000-character JSON string", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const long = "x".repeat(50_000);
    const participant = await createParticipant(apiKey, chatbot.id, {
      identifier: "<script>alert(1)</script>",
      name: '"><img src=x onerror=alert(1)>',
      data: { "<b>key</b>": "\u202Eevil", long, nested: { html: "</textarea><script>alert(2)</script>" } },
    });
    await call("PATCH", `/v1/participants/${participant.id}`, { token: apiKey, body: { email: "eve@example.com" } });
    const cookie = await signIn(apiKey);
    for (const path of ["/dashboard/participants", `/dashboard/participants/${participant.id}`]) {
      const answer = await page(path, cookie);
      expect(answer.status).toBe(200);
      expect(answer.text).not.toContain("<script>alert");
      expect(answer.text).not.toContain("<img src=x");
      expect(answer.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
      expect(answer.text).toMatch(/<bdi dir="auto">&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/bdi>/);
    }
    const view = await page(`/dashboard/participants/${participant.id}`, cookie);
    expect(view.text).not.toContain("</textarea><script>");
    expect(view.text).toContain("&lt;/textarea&gt;&lt;script&gt;alert(2)&lt;/script&gt;");
    // The override is written as its JSON escape in the editor: same data, no reordered lines.
    expect(view.text).not.toContain("\u202E");
    expect(view.text).toContain("\\u202eevil");
    expect(view.text).toContain(long);
    expect(view.text.length).toBeLessThan(80_000);
  });

  it("gives a read key's session the pages without any control that changes data", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id, { name: "Rita", data: { plan: "pro" } });
    const cookie = await signIn(await readKey(apiKey));
    const list = await page("/dashboard/participants", cookie);
    expect(list.status).toBe(200);
    expect(list.text).toContain("Read-only key");
    expect(list.text).toContain("Rita");
    expect(list.text).toContain(`href="/v1/participants/export?chatbot_id=${chatbot.id}"`);
    for (const control of ["data-participant-create", "data-csv-import", 'href="#create"']) expect(list.text).not.toContain(control);
    const view = await page(`/dashboard/participants/${participant.id}`, cookie);
    expect(view.status).toBe(200);
    expect(view.text).toContain("Rita");
    expect(view.text).toContain("&quot;plan&quot;: &quot;pro&quot;");
    for (const control of ["<form", "<textarea", "<input", "data-data-editor", "data-customer-form"]) {
      // The only form is the header's sign-out.
      if (control === "<form") expect(view.text.match(/<form/g)).toHaveLength(1);
      else expect(view.text).not.toContain(control);
    }
  });

  it("sends a visitor without a session to sign in", async () => {
    const answer = await page("/dashboard/participants/part_00000000000000000000000000");
    expect(answer.status).toBe(303);
    expect(answer.headers.get("Location")).toBe("/dashboard/login?next=%2Fdashboard%2Fparticipants%2Fpart_00000000000000000000000000");
  });
});
