import { exports } from "cloudflare:workers";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { BASE, call } from "../support/api";
import { costOf } from "../support/cost";
import { teamWithChatbot } from "../support/participants";

const CSV = { "Content-Type": "text/csv" };
// The import's row cap: the largest file there is, and well inside the 30 s test timeout.
const ROWS = 10_000;

function importCsv(apiKey: string, chatbotId: string, csv: string) {
  return call("POST", `/v1/participants/import?chatbot_id=${chatbotId}`, { token: apiKey, rawBody: csv, headers: CSV });
}

/** `count` participants from `from` on, with a name and five data columns, as a spreadsheet would hold them. */
function rows(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return `user-${i},${i % 2 ? "api" : "whatsapp"},Person ${i},${i % 3 ? "pro" : "free"},${i},"[""t${i % 7}""]",${i % 2 === 0},note ${i}`;
  });
}
const HEADER = "identifier,channel,name,data.plan,data.visits,data.tags,data.vip,data.note";
const file = (lines: string[]) => [HEADER, ...lines].join("\r\n");

describe("CSV import at scale", () => {
  it(`re-imports ${ROWS} unchanged rows reading at most 3 rows each: rows read grow with the file, not with the chatbot times the file`, async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const csv = file(rows(0, ROWS));
    const first = await importCsv(apiKey, chatbot.id, csv);
    expect(first.json).toEqual({ created: ROWS, updated: 0, unchanged: 0, errors: [] });

    const again = await importCsv(apiKey, chatbot.id, csv);
    expect(again.json).toEqual({ created: 0, updated: 0, unchanged: ROWS, errors: [] });
    const cost = costOf(again);
    expect(cost.d1RowsWritten).toBe(0);
    // Each row is a pair read from the JSON parameter and one probe of the unique index (2 rows
    // per row today). The quadratic plan read the chatbot's participants once per pair: 200 per row.
    expect(cost.d1RowsRead).toBeGreaterThanOrEqual(ROWS);
    expect(cost.d1RowsRead).toBeLessThanOrEqual(3 * ROWS);

    // A small file into this large chatbot reads its own rows only, whatever the chatbot holds.
    const small = await importCsv(apiKey, chatbot.id, file([...rows(0, 5), ...rows(ROWS, 5)]));
    expect(small.json).toEqual({ created: 5, updated: 0, unchanged: 5, errors: [] });
    expect(costOf(small).d1RowsRead).toBeLessThanOrEqual(3 * 10);
  });

  it(`exports ${ROWS} participants with every data key as a column, and the export re-imports as itself`, async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    expect((await importCsv(apiKey, chatbot.id, file(rows(0, ROWS - 1)))).json.created).toBe(ROWS - 1);
    // Keys only one participant has, imported last (the file cap is the import's row cap): the
    // header must still name them, in code point order as SQLite sorts text (U+FF01 before
    // U+1F600, unlike UTF-16 order).
    const late = "identifier,channel,data.\u{1F600},data.\uFF01,data.Z,data.\u00E9\r\nlast,api,1,2,3,4";
    expect((await importCsv(apiKey, chatbot.id, late)).json.created).toBe(1);

    const response = await exports.default.fetch(
      new Request(`${BASE}/v1/participants/export?chatbot_id=${chatbot.id}`, { headers: { Authorization: `Bearer ${apiKey}` } }),
    );
    expect(response.status).toBe(200);
    const csv = await response.text();
    const parsed = Papa.parse<string[]>(csv.replace(/^\uFEFF/, ""), { skipEmptyLines: true, delimiter: "," });
    expect(parsed.data[0]).toEqual(
      ["identifier", "channel", "name", "Z", "note", "plan", "tags", "vip", "visits", "\u00E9", "\uFF01", "\u{1F600}"].map((column, i) =>
        i < 3 ? column : `data.${column}`,
      ),
    );
    expect(parsed.data).toHaveLength(ROWS + 1);

    const again = await importCsv(apiKey, chatbot.id, csv);
    expect(again.json).toEqual({ created: 0, updated: 0, unchanged: ROWS, errors: [] });
    expect(costOf(again).d1RowsWritten).toBe(0);
  });
});
