import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { cancelSchedule, insertSchedule } from "../../src/schedules/storage";
import { newId } from "../../src/shared/ids";
import { call, countD1Statements, createTeam, sendMessageOk, startConversationWith } from "../support/api";
import { page, signIn } from "../support/dashboard";
import { createParticipant, teamWithChatbot } from "../support/participants";

/** A browser-like page request to the Worker. */
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
    const cookie = await signIn(apiKey, "/dashboard/participants");
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
    const cookie = await signIn(team.apiKey, "/dashboard/participants");
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
    const cookie = await signIn(apiKey, "/dashboard/participants");
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
    const cookie = await signIn(apiKey, "/dashboard/participants");
    const { result, statements } = await countD1Statements(() => page("/dashboard/participants", cookie));
    expect(result.status).toBe(200);
    // The session's key, the team's chatbots, one page of participants.
    expect(statements).toBe(3);
  });

  it("asks a team without chatbots to create one first", async () => {
    const team = await createTeam();
    const list = await page("/dashboard/participants", await signIn(team.apiKey, "/dashboard/participants"));
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
    const cookie = await signIn(apiKey, "/dashboard/participants");
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

  it("reads the page in four statements after the session's", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id);
    const cookie = await signIn(apiKey, "/dashboard/participants");
    const { result, statements } = await countD1Statements(() => page(`/dashboard/participants/${participant.id}`, cookie));
    expect(result.status).toBe(200);
    // The session's key, the participant, its chatbot, its conversations, its schedules.
    expect(statements).toBe(5);
  });

  it("shows at most 20 conversations, and says so", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const first = await startConversationWith(chatbot.id);
    for (let i = 0; i < 20; i++) await startConversationWith(chatbot.id, { visitor_id: first.visitor_id });
    const view = await page(`/dashboard/participants/${first.participant_id}`, await signIn(apiKey, "/dashboard/participants"));
    expect([...view.text.matchAll(/href="\/dashboard\/conversations\//g)]).toHaveLength(20);
    expect(view.text).not.toContain(first.conversation_id);
    expect(view.text).toContain("The 20 newest conversations are shown.");
  });

  it("answers the same 404 page for another team's participant, a missing id and junk", async () => {
    const { apiKey } = await teamWithChatbot();
    const other = await teamWithChatbot();
    const foreign = await createParticipant(other.apiKey, other.chatbot.id, { name: "Secret Name" });
    const cookie = await signIn(apiKey, "/dashboard/participants");
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
    const cookie = await signIn(apiKey, "/dashboard/participants");
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
    const cookie = await signIn(await readKey(apiKey), "/dashboard/participants");
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

/** The HTML of the section landmark `id`. */
function sectionOf(html: string, id: string): string {
  const start = html.indexOf(`<section aria-labelledby="${id}-heading"`);
  expect(start, `section ${id}`).toBeGreaterThan(-1);
  return html.slice(start, html.indexOf("</section>", start));
}

async function addSchedule(apiKey: string, participantId: string, body: Record<string, unknown>) {
  const response = await call("POST", `/v1/participants/${participantId}/schedules`, { token: apiKey, body });
  expect(response.status, response.text).toBe(201);
  return response.json as { id: string };
}

/** Next year, so the times are ahead whenever the suite runs (January: Paris is UTC+1). */
const YEAR = new Date().getUTCFullYear() + 1;

describe("dashboard participant schedules", () => {
  it("lists active schedules soonest first in the participant's timezone and UTC, then cancelled ones with their status", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id, { timezone: "Europe/Paris" });
    const weekly = await addSchedule(apiKey, participant.id, {
      name: "Weekly check-in",
      message: "How is it going?",
      due_at: `${YEAR}-01-20T09:00:00+01:00`,
      every: { count: 2, unit: "weeks" },
      repetitions: 3,
    });
    const soon = await addSchedule(apiKey, participant.id, {
      name: "Trial ends",
      message: "Your trial ends today.",
      due_at: `${YEAR}-01-15T18:30:00+01:00`,
    });
    const gone = await addSchedule(apiKey, participant.id, { name: "Old offer", message: "Offer", due_at: `${YEAR}-02-01T10:00:00+01:00` });
    expect((await call("DELETE", `/v1/participants/${participant.id}/schedules/${gone.id}`, { token: apiKey })).status).toBe(200);
    const other = await createParticipant(apiKey, chatbot.id);
    await addSchedule(apiKey, other.id, { name: "Someone else's", message: "x", due_at: `${YEAR}-01-10T10:00:00Z` });
    const view = await page(`/dashboard/participants/${participant.id}`, await signIn(apiKey, "/dashboard/participants"));
    expect(view.status).toBe(200);
    const schedules = sectionOf(view.text, "schedules");
    expect(schedules).toContain('<h2 id="schedules-heading">Schedules</h2>');
    expect(schedules).toContain("<strong>Europe/Paris</strong>");
    expect(schedules).not.toContain("Someone else");
    const order = [...schedules.matchAll(/<tr data-schedule-id="(sch_[0-9a-z]{26})" data-status="([a-z]+)"/g)].map((m) => [m[1], m[2]]);
    expect(order).toEqual([
      [soon.id, "active"],
      [weekly.id, "active"],
      [gone.id, "cancelled"],
    ]);
    // Next due: the wall clock in Europe/Paris, UTC under it.
    expect(schedules).toContain(
      `<time datetime="${YEAR}-01-15T17:30:00.000Z">${YEAR}-01-15 18:30 <span class="tz">Europe/Paris</span></time>`,
    );
    expect(schedules).toContain(`${YEAR}-01-15 17:30 UTC`);
    expect(schedules).toContain("Every 2 weeks");
    expect(schedules).toContain("3 times in all");
    expect(schedules).toContain('<td class="schedule-cancelled">Cancelled</td>');
    // Move and Cancel for active ones only: Move opens a form with the current time in the participant's zone.
    expect(schedules).toContain(`aria-controls="move-${soon.id}" aria-label="Move: schedule Trial ends"`);
    expect(schedules).toMatch(new RegExp(`id="move-${soon.id}-due" name="due_at" type="datetime-local" value="${YEAR}-01-15T18:30"`));
    expect(schedules).toContain(`data-url="/v1/participants/${participant.id}/schedules/${soon.id}"`);
    expect(schedules).toContain('aria-label="Cancel schedule: schedule Trial ends"');
    expect(schedules).not.toContain(`aria-controls="move-${gone.id}"`);
    expect(schedules).not.toContain(`schedules/${gone.id}"`);
    // The form: labelled controls, the due time as a datetime-local in the participant's zone.
    for (const id of [
      "schedule-name",
      "schedule-message",
      "schedule-due",
      "schedule-every-count",
      "schedule-every-unit",
      "schedule-repetitions",
      "schedule-end",
    ])
      expect(schedules).toContain(`<label for="${id}">`);
    expect(schedules).toContain('data-timezone="Europe/Paris"');
    expect(schedules).toMatch(/<input id="schedule-due" name="due_at" type="datetime-local"/);
    expect(schedules).toContain("<legend>Repeat</legend>");
  });

  it("shows times in UTC where the participant has no timezone, and says so when there are none", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id);
    const cookie = await signIn(apiKey, "/dashboard/participants");
    expect(sectionOf((await page(`/dashboard/participants/${participant.id}`, cookie)).text, "schedules")).toContain("No schedules yet.");
    await addSchedule(apiKey, participant.id, { name: "Ping", message: "Ping", due_at: `${YEAR}-03-01T07:05:00Z` });
    const schedules = sectionOf((await page(`/dashboard/participants/${participant.id}`, cookie)).text, "schedules");
    expect(schedules).toContain("(none is set in the customer record, so UTC)");
    expect(schedules).toContain(`${YEAR}-03-01 07:05 <span class="tz">UTC</span>`);
    expect(schedules).toContain("Once");
    expect(schedules).toContain('data-timezone="UTC"');
  });

  it("renders hostile schedule names and messages as text, isolated for bidi", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id);
    const hostile = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "\u202Eevil"].join(" ");
    await addSchedule(apiKey, participant.id, {
      name: hostile.slice(0, 150),
      message: `${hostile} ${"m".repeat(9_000)}`,
      due_at: `${YEAR}-03-01T07:05:00Z`,
    });
    const view = await page(`/dashboard/participants/${participant.id}`, await signIn(apiKey, "/dashboard/participants"));
    const schedules = sectionOf(view.text, "schedules");
    expect(schedules).not.toContain("<script>alert(1)");
    expect(schedules).not.toContain("<img src=x");
    expect(schedules).toContain(
      '<bdi dir="auto">&lt;script&gt;alert(1)&lt;/script&gt; &quot;&gt;&lt;img src=x onerror=alert(1)&gt; \u202Eevil</bdi>',
    );
    // The name in the buttons' accessible names is an escaped attribute.
    expect(schedules).toContain('aria-label="Move: schedule &lt;script&gt;alert(1)&lt;/script&gt;');
    // A long message is shortened on the page.
    expect(view.text.length).toBeLessThan(40_000);
  });

  it("lists every active schedule and the 20 newest finished ones, and stays a bounded page at the limits", async () => {
    const { apiKey, chatbot, team } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id, { timezone: "Europe/Paris" });
    const base = Date.parse("2026-01-01T00:00:00Z");
    // Written straight to storage: the routes would arm an alarm for each, which is not what this measures.
    for (let i = 0; i < 130; i++) {
      const row = {
        id: newId("sch", base + i),
        team_id: team.id,
        chatbot_id: chatbot.id,
        participant_id: participant.id,
        name: "n".repeat(200),
        message: "m".repeat(10_000),
        anchor: `${YEAR}-01-15T09:00:00+01:00[Europe/Paris]`,
        timezone: "Europe/Paris",
        every_count: 1,
        every_unit: "days" as const,
        repetitions: null,
        end_at: null,
        occurrence: 0,
        next_due_at: `${YEAR}-01-15T08:00:00.000Z`,
        fired_count: 0,
        skipped_count: 0,
        last_fired_at: null,
        status: "active" as const,
        created_at: "2026-01-01T00:00:00.000Z",
        updated_at: "2026-01-01T00:00:00.000Z",
      };
      await insertSchedule(env.DB, row, 1_000).run();
      if (i < 30) await cancelSchedule(env.DB, { id: row.id, teamId: team.id }, row.updated_at);
    }
    const cookie = await signIn(apiKey, "/dashboard/participants");
    const { result, statements } = await countD1Statements(() => page(`/dashboard/participants/${participant.id}`, cookie));
    expect(statements).toBe(5);
    const rows = [...result.text.matchAll(/<tr data-schedule-id="[^"]+" data-status="([a-z]+)"/g)].map((m) => m[1]);
    expect(rows.filter((status) => status === "active")).toHaveLength(100);
    expect(rows.filter((status) => status === "cancelled")).toHaveLength(20);
    expect(result.text).toContain("The 20 newest finished schedules are shown");
    expect(new TextEncoder().encode(result.text).length).toBeLessThan(340 * 1024);
  });

  it("lists a read key's session the schedules without any control that changes them", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id);
    await addSchedule(apiKey, participant.id, { name: "Visible", message: "Hello", due_at: `${YEAR}-03-01T07:05:00Z` });
    const view = await page(`/dashboard/participants/${participant.id}`, await signIn(await readKey(apiKey), "/dashboard/participants"));
    const schedules = sectionOf(view.text, "schedules");
    expect(schedules).toContain("Visible");
    for (const control of ["<form", "data-confirm", "data-disclose", "<input", "<button", ">Change</th>"])
      expect(schedules).not.toContain(control);
  });
});
