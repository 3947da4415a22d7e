import { env, exports } from "cloudflare:workers";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { BASE, call, expectProblem } from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";
import { createParticipant, getParticipant, listParticipants, teamWithChatbot } from "../support/participants";
import { createWebhook } from "../webhooks/support";

const CSV = { "Content-Type": "text/csv" };

/** The export as sent, byte order mark included (Response.text() would drop it). */
async function exportCsv(apiKey: string, chatbotId: string) {
  const response = await exports.default.fetch(
    new Request(`${BASE}/v1/participants/export?chatbot_id=${chatbotId}`, { headers: { Authorization: `Bearer ${apiKey}` } }),
  );
  expect(response.status).toBe(200);
  expect(response.headers.get("Content-Type")).toBe("text/csv; charset=utf-8");
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(await response.arrayBuffer());
}

function importCsv(apiKey: string, chatbotId: string, csv: string) {
  return call("POST", `/v1/participants/import?chatbot_id=${chatbotId}`, { token: apiKey, rawBody: csv, headers: CSV });
}

// Values chosen to break naive CSV and JSON handling: Unicode (astral too), quotes,
// commas, line breaks, JSON-looking strings, nested values and formula starters.
const TRICKY: Record<string, unknown> = {
  unicode: "Žemaitė ąčęėįšųūž 日本語 😀 𝄞 \u200d",
  quotes: "he said \"hi\", then 'bye'",
  comma: "a,b,,c",
  newlines: "line 1\nline 2\r\nline 3\r",
  nested: { list: [1, "two", { three: [null, true, false] }], 'key,with"quote': "😀" },
  empty_string: "",
  numeric_string: "42",
  leading_zero: "007",
  bool_string: "true",
  null_string: "null",
  quoted_json: '"already quoted"',
  number: -12.5,
  integer: 3,
  big: 1e21,
  yes: false,
  nothing: null,
  list: ["=1+1", "+cmd", "-", "@SUM(A1)"],
  formula: '=HYPERLINK("http://evil.example","click")',
  plus: "+1 (555) 0100",
  minus: "-x",
  minus_number: "-5",
  at: "@cmd|' /C calc'!A0",
  tab: "\tindented",
  cr: "\rreturn",
  apostrophe: "'quoted'",
  two_apostrophes: "''",
  apostrophe_formula: "'=1+1",
  spaces: "  padded  ",
  braces: "{not json",
};

describe("CSV export and import", () => {
  it("round-trips every value exactly, Unicode, quotes, commas, newlines, nested and formula-like cells included", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    await createParticipant(apiKey, chatbot.id, { identifier: "=cmd|evil", name: '=Ada, "the" 😀', data: TRICKY });
    await createParticipant(apiKey, chatbot.id, {
      identifier: "+37060000000",
      channel: "whatsapp",
      name: "Jonas",
      data: { only_some: [1] },
    });
    await createParticipant(apiKey, chatbot.id, { identifier: "plain", data: {} });
    const before = await listParticipants(apiKey, chatbot.id);
    const csv = await exportCsv(apiKey, chatbot.id);

    // No cell a spreadsheet would run as a formula.
    const parsed = Papa.parse<string[]>(csv.replace(/^\uFEFF/, ""), { skipEmptyLines: true });
    expect(parsed.errors).toEqual([]);
    expect(parsed.data[0]!.slice(0, 3)).toEqual(["identifier", "channel", "name"]);
    for (const row of parsed.data)
      for (const cell of row) {
        if (/^[=+\-@\t\r]/.test(cell)) expect(cell).toMatch(/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/);
      }
    expect(csv.startsWith("\uFEFF")).toBe(true);

    // Importing into the same chatbot changes nothing at all.
    const same = await importCsv(apiKey, chatbot.id, csv);
    expect(same.json).toEqual({ created: 0, updated: 0, unchanged: 3, errors: [] });
    expect(await listParticipants(apiKey, chatbot.id)).toEqual(before);

    // Importing into a fresh chatbot recreates identical records.
    const other = await call("POST", "/v1/chatbots", { token: apiKey, body: { name: "copy" } });
    const copied = await importCsv(apiKey, other.json.id, csv);
    expect(copied.json).toEqual({ created: 3, updated: 0, unchanged: 0, errors: [] });
    const after = await listParticipants(apiKey, other.json.id);
    const shape = (list: any[]) =>
      list
        .map((p) => ({ identifier: p.identifier, channel: p.channel, name: p.name, data: p.data }))
        .sort((a, b) => a.identifier.localeCompare(b.identifier));
    expect(shape(after)).toEqual(shape(before));
    expect(after.find((p) => p.identifier === "=cmd|evil").data).toEqual(TRICKY);
  });

  it("merges: an empty cell leaves its key alone, cells parse as JSON else stay strings", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { identifier: "u1", name: "Old", data: { keep: "me", plan: "free", n: 1 } });
    const csv = [
      "identifier,channel,name,data.plan,data.n,data.keep,data.extra",
      'u1,api,,pro,2,,"{""a"":[1,2]}"',
      "u2,api,New Person,trial,not json,,'=literal",
      "",
    ].join("\r\n");
    const result = await importCsv(apiKey, chatbot.id, csv);
    expect(result.json).toEqual({ created: 1, updated: 1, unchanged: 0, errors: [] });
    expect(await getParticipant(apiKey, p.id)).toMatchObject({
      name: "Old",
      version: 2,
      data: { keep: "me", plan: "pro", n: 2, extra: { a: [1, 2] } },
    });
    const created = (await listParticipants(apiKey, chatbot.id)).find((x) => x.identifier === "u2");
    expect(created).toMatchObject({
      channel: "api",
      name: "New Person",
      version: 1,
      data: { plan: "trial", n: "not json", extra: "=literal" },
    });
  });

  it("tells the team's webhooks what it did: participant.created, participant.data.updated, nothing for a name or no change", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const changed = await createParticipant(apiKey, chatbot.id, { identifier: "changed", data: { plan: "free" } });
    await createParticipant(apiKey, chatbot.id, { identifier: "renamed", name: "Old", data: { plan: "free" } });
    await createParticipant(apiKey, chatbot.id, { identifier: "same", data: { plan: "free" } });
    const webhook = await createWebhook(apiKey, { events: ["participant.created", "participant.data.updated"] });
    const otherBot = await call("POST", "/v1/chatbots", { token: apiKey, body: { name: "other bot" } });
    const elsewhere = await createWebhook(apiKey, {
      events: ["participant.created", "participant.data.updated"],
      chatbot_id: otherBot.json.id,
    });
    const intruder = await teamWithChatbot();
    const theirs = await createWebhook(intruder.apiKey, { events: ["participant.created", "participant.data.updated"] });

    const csv = [
      "identifier,channel,name,data.plan",
      "changed,api,,pro",
      "renamed,api,New,free",
      "same,api,,free",
      "new <b>one</b>,api,,trial",
    ].join("\n");
    const result = await importCsv(apiKey, chatbot.id, csv);
    expect(result.json).toEqual({ created: 1, updated: 2, unchanged: 1, errors: [] });

    // Written before the answer, as the import's batches land: no waiting.
    const deliveries = async (webhookId: string) =>
      (
        await env.DB.prepare("SELECT event_type, payload FROM webhook_deliveries WHERE webhook_id = ? ORDER BY event_type")
          .bind(webhookId)
          .all<{ event_type: string; payload: string }>()
      ).results.map((row) => ({ type: row.event_type, ...JSON.parse(row.payload) }));
    const [created, updated, ...more] = await deliveries(webhook.id);
    expect(more).toEqual([]);
    // Each event carries the participant exactly as the API now shows it.
    const fresh = (await listParticipants(apiKey, chatbot.id)).find((p) => p.identifier === "new <b>one</b>");
    expect(created).toMatchObject({ type: "participant.created", data: { participant: fresh } });
    expect(created.timestamp).toBe(fresh.updated_at);
    expect(updated).toMatchObject({ type: "participant.data.updated", data: { participant: await getParticipant(apiKey, changed.id) } });
    expect(updated.data.participant).toMatchObject({ version: 2, data: { plan: "pro" } });
    expect(await deliveries(elsewhere.id)).toEqual([]);
    expect(await deliveries(theirs.id)).toEqual([]);

    // Imported again unchanged: nothing to tell.
    expect((await importCsv(apiKey, chatbot.id, csv)).json).toMatchObject({ created: 0, updated: 0, unchanged: 4 });
    expect(await deliveries(webhook.id)).toHaveLength(2);
  });

  it("reports bad rows by spreadsheet row number (header = 1, multi-line cells count once) and applies the rest", async () => {
    const { apiKey, chatbot } = await teamWithChatbot({ type: "object", properties: { age: { type: "integer" } } });
    const csv = [
      "identifier,channel,name,data.age,data.note",
      'a,api,,1,"first\nsecond\nthird line"', // row 2 (spans three lines)
      ",api,,2,", // row 3: no identifier
      "c,api,,3,", // row 4
      "d,Web Chat,,4,", // row 5: bad channel
      "", // row 6: blank, skipped silently
      "e,api,,forty,", // row 7: schema violation
      "f,api,,6,,extra cell", // row 8: too many cells
      "g,api,,7,ok", // row 9
    ].join("\n");
    const result = await importCsv(apiKey, chatbot.id, csv);
    expect(result.status).toBe(200);
    expect(result.json.created).toBe(3);
    expect(result.json.errors.map((e: any) => e.row)).toEqual([3, 5, 7, 8]);
    expect(result.json.errors[0].message).toMatch(/identifier/);
    expect(result.json.errors[1].message).toMatch(/channel/);
    expect(result.json.errors[2].message).toMatch(/\/age/);
    const ids = (await listParticipants(apiKey, chatbot.id)).map((p) => p.identifier).sort();
    expect(ids).toEqual(["a", "c", "g"]);
    expect((await listParticipants(apiKey, chatbot.id)).find((p) => p.identifier === "a").data).toEqual({
      age: 1,
      note: "first\nsecond\nthird line",
    });
  });

  it("folds several rows for one participant in file order, skipping only the refused one", async () => {
    const { apiKey, chatbot } = await teamWithChatbot({ type: "object", properties: { n: { type: "integer", maximum: 10 } } });
    const csv = ["identifier,channel,data.n,data.tag", "x,api,1,a", "x,api,99,b", "x,api,3,"].join("\n");
    const result = await importCsv(apiKey, chatbot.id, csv);
    expect(result.json).toEqual({ created: 1, updated: 0, unchanged: 0, errors: [{ row: 3, message: expect.stringMatching(/\/n/) }] });
    expect((await listParticipants(apiKey, chatbot.id))[0].data).toEqual({ n: 3, tag: "a" });
  });

  it("refuses bad headers, wrong media types and oversized files as a whole", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    expect(expectProblem(await importCsv(apiKey, chatbot.id, "identifier,data.a\nx,1"), 400).detail).toMatch(/channel/);
    expect(expectProblem(await importCsv(apiKey, chatbot.id, "identifier,channel,email\nx,api,a@b.c"), 400).detail).toMatch(/email/);
    expectProblem(await importCsv(apiKey, chatbot.id, "identifier,channel,data.a,data.a\nx,api,1,2"), 400);
    expectProblem(await importCsv(apiKey, chatbot.id, ""), 400);
    expectProblem(
      await call("POST", `/v1/participants/import?chatbot_id=${chatbot.id}`, { token: apiKey, body: { identifier: "x" } }),
      415,
    );
    const manyRows = `identifier,channel\n${Array.from({ length: 10_001 }, (_, i) => `u${i},api`).join("\n")}`;
    const tooMany = expectProblem(await importCsv(apiKey, chatbot.id, manyRows), 413);
    expect(tooMany.limit_rows).toBe(10_000);
    const tooBig = await importCsv(apiKey, chatbot.id, `identifier,channel,data.blob\nx,api,${"y".repeat(4 * 1024 * 1024)}`);
    expectProblem(tooBig, 413);
    expect(await listParticipants(apiKey, chatbot.id)).toEqual([]);
  });

  it("answers 404 for a chatbot id that is not an id", async () => {
    const { apiKey } = await teamWithChatbot();
    expectProblem(await call("GET", "/v1/participants/export?chatbot_id=nope", { token: apiKey }), 404);
  });

  it("exports an empty chatbot as a header row, and pages through more than one page", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    expect(await exportCsv(apiKey, chatbot.id)).toBe("\uFEFFidentifier,channel,name\r\n");
    const rows = Array.from({ length: 1_203 }, (_, i) => `id-${i},api,,${i}`);
    const imported = await importCsv(apiKey, chatbot.id, ["identifier,channel,name,data.i", ...rows].join("\n"));
    expect(imported.json.created).toBe(1_203);
    const csv = await exportCsv(apiKey, chatbot.id);
    const parsed = Papa.parse<string[]>(csv.replace(/^\uFEFF/, ""), { skipEmptyLines: true }).data;
    expect(parsed).toHaveLength(1_204);
    expect(new Set(parsed.slice(1).map((r) => r[0])).size).toBe(1_203);
    expect(
      parsed
        .slice(1)
        .map((r) => Number(r[3]))
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 1_203 }, (_, i) => i));
  });

  it("refuses a file separated by semicolons, tabs or pipes with a 400 that says commas are needed, and imports nothing", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    for (const separator of [";", "\t", "|"]) {
      const csv = [
        ["identifier", "channel", "name", "data.plan"],
        ["u1", "api", "Ada", "pro"],
      ]
        .map((cells) => cells.join(separator))
        .join("\r\n");
      const refused = expectProblem(await importCsv(apiKey, chatbot.id, csv), 400);
      expect(refused.type).toBe("/problems/invalid-csv");
      expect(refused.detail).toMatch(/separated by commas/);
      expect(refused.detail).toContain(JSON.stringify(separator));
    }
    expect(await listParticipants(apiKey, chatbot.id)).toEqual([]);
  });

  // papaparse guesses the delimiter unless told; a file whose cells hold more `|` (or `;`, tabs)
  // than the header has columns was re-read split on those, so an export did not re-import as itself.
  for (const separator of ["|", ";", "\t"]) {
    it(`re-imports its own export unchanged when names and data hold ${JSON.stringify(separator)}`, async () => {
      const { apiKey, chatbot } = await teamWithChatbot();
      const s = separator;
      const visible = s === "\t" ? "|" : s; // names and identifiers refuse control characters
      await createParticipant(apiKey, chatbot.id, {
        identifier: `a${visible}b${visible}c`,
        name: `Ada${visible}Lovelace${visible}"the first"`,
        data: {
          [`k${s}e${s}y`]: `1${s}2${s}3`,
          list: [`x${s}y`, `${s}lead`],
          formula: `=A1${s}B1`,
          quote: `say "${s}"`,
          lines: `one${s}\ntwo`,
        },
      });
      await createParticipant(apiKey, chatbot.id, {
        identifier: `${visible}${visible}`,
        data: { [`k${s}e${s}y`]: `${s}${s}`, tab: "\tstart", semicolon: "a;b", pipe: "a|b", plain: "p" },
      });
      const before = await listParticipants(apiKey, chatbot.id);
      const csv = await exportCsv(apiKey, chatbot.id);

      const again = await importCsv(apiKey, chatbot.id, csv);
      expect(again.json).toEqual({ created: 0, updated: 0, unchanged: 2, errors: [] });
      expect(await listParticipants(apiKey, chatbot.id)).toEqual(before);

      const other = await call("POST", "/v1/chatbots", { token: apiKey, body: { name: "copy" } });
      expect((await importCsv(apiKey, other.json.id, csv)).json).toEqual({ created: 2, updated: 0, unchanged: 0, errors: [] });
      const shape = (list: any[]) => list.map((p) => [p.identifier, p.channel, p.name, p.data]).sort();
      expect(shape(await listParticipants(apiKey, other.json.id))).toEqual(shape(before));
    });
  }
});

// Another team's key exports none of a chatbot's participants and imports into none (the very 404
// of a missing chatbot), and no refused import writes.
describeApiKeyAuth({
  setup: async () => {
    const { team, apiKey, chatbot } = await teamWithChatbot();
    await createParticipant(apiKey, chatbot.id, { identifier: "s3cret-identifier", data: { s: 1 } });
    return { team, ids: { chatbot: chatbot.id }, secrets: ["s3cret-identifier"] };
  },
  routes: [
    { method: "GET", path: ({ chatbot }) => `/v1/participants/export?chatbot_id=${chatbot}` },
    {
      method: "POST",
      path: ({ chatbot }) => `/v1/participants/import?chatbot_id=${chatbot}`,
      rawBody: () => "identifier,channel,data.s\ns3cret-identifier,api,2\nnewcomer,api,3",
      headers: CSV,
    },
  ],
  unchanged: async ({ team, ids }) => {
    const participants = await listParticipants(team.apiKey, ids.chatbot);
    expect(participants).toHaveLength(1);
    expect(participants[0].data).toEqual({ s: 1 });
  },
});
