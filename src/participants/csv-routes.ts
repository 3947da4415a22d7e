import { Hono } from "hono";
import { requireTeamChatbot } from "../chatbots/lookups";
import { costHeader, newCost } from "../shared/cost";
import type { ApiEnv } from "../shared/hono-env";
import { limitBody } from "../shared/json-body";
import { badRequest, problem } from "../shared/problem";
import { nowIso } from "../shared/time";
import { publishNow } from "../webhooks/publish";
import { exportHeader, exportLines, readImportFile } from "./csv-format";
import { importParticipants } from "./csv-import";
import { CSV_IMPORT_MAX_BYTES } from "./limits";
import { listDataKeys, listExportPage } from "./storage";

/** GET /export and POST /import of a chatbot's participants as CSV. */
export const csvRoutes = new Hono<ApiEnv>();

const EXPORT_PAGE = 500;
const IMPORT_COST_COUNTERS = ["d1RowsRead", "d1RowsWritten"] as const;
const ACCEPTED_TYPES = new Set(["", "text/csv", "text/plain", "application/csv", "application/vnd.ms-excel"]);

function chatbotIdParam(value: string | undefined): string {
  if (!value) throw badRequest("The chatbot_id query parameter is required.", [{ pointer: "/chatbot_id", message: "is required" }]);
  return value;
}

csvRoutes.get("/export", async (c) => {
  const db = c.env.DB;
  const chatbot = await requireTeamChatbot(db, c.var.teamId, chatbotIdParam(c.req.query("chatbot_id")));
  const keys = await listDataKeys(db, chatbot.id);
  // Pages are read as the stream is consumed, so a large export never sits in memory.
  let cursor = "";
  let done = false;
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(exportHeader(keys)));
    },
    async pull(controller) {
      if (done) return controller.close();
      const page = await listExportPage(db, chatbot.id, cursor, EXPORT_PAGE);
      if (page.length < EXPORT_PAGE) done = true;
      if (page.length === 0) return controller.close();
      cursor = page.at(-1)!.id;
      controller.enqueue(encoder.encode(exportLines(page, keys)));
    },
  });
  return c.body(stream, 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="participants-${chatbot.id}.csv"`,
    "Cache-Control": "no-store",
  });
});

csvRoutes.post("/import", limitBody(CSV_IMPORT_MAX_BYTES), async (c) => {
  const chatbot = await requireTeamChatbot(c.env.DB, c.var.teamId, chatbotIdParam(c.req.query("chatbot_id")));
  const type = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (!ACCEPTED_TYPES.has(type)) throw problem("unsupported-media-type", "Send the CSV as text/csv (UTF-8).");
  const file = await readImportFile(await c.req.text());
  const cost = newCost();
  const teamId = c.var.teamId;
  const report = await importParticipants(c.env.DB, teamId, chatbot, file, nowIso(), cost, (make) => publishNow(c.env, teamId, make));
  // The lookup's and the batched writes' rows: what makes an import's cost visible (and testable).
  return c.json(report, 200, { "Chat-Context-Cost": costHeader(cost, IMPORT_COST_COUNTERS) });
});
