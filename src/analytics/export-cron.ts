/**
 * The daily export (wrangler.toml `[triggers] crons`): for every chatbot with conversations
 * started in the two UTC days before the run, those days are exported again to R2
 * (src/analytics/export.ts). Two days, so a conversation that started just before midnight
 * and ended, or got its outcome, after the first run is exported with it the next night.
 */
import { exportChatbotDays } from "./export";
import { listChatbotsWithConversations, nextDay } from "./export-storage";

/** How many days before the run's own day each run exports. */
export const CRON_EXPORT_DAYS = 2;

/** The days [from, to) a run at `time` exports: the CRON_EXPORT_DAYS before its UTC day. */
export function cronExportDays(time: number): { from: string; to: string } {
  const to = new Date(time).toISOString().slice(0, 10);
  return { from: nextDay(to, -CRON_EXPORT_DAYS), to };
}

/**
 * The Worker's `scheduled` handler. Each chatbot is exported in turn; one that fails is
 * logged and the others go on; the run then fails, so the Cron Trigger shows it.
 */
export async function exportAnalyticsDaily(controller: ScheduledController, env: Env): Promise<void> {
  const { from, to } = cronExportDays(controller.scheduledTime);
  const chatbots = await listChatbotsWithConversations(env.DB, from, to);
  const failed: string[] = [];
  for (const chatbot of chatbots) {
    try {
      let start = from;
      // A chatbot with more conversations than one call writes is exported in several.
      for (;;) {
        const result = await exportChatbotDays(env, { teamId: chatbot.team_id, chatbotId: chatbot.chatbot_id, from: start, to });
        if (result.next_from === null) break;
        start = result.next_from;
      }
    } catch (error) {
      console.error("analytics export: the daily export of a chatbot failed", chatbot.chatbot_id, error);
      failed.push(chatbot.chatbot_id);
    }
  }
  if (failed.length > 0) throw new Error(`analytics export: ${failed.length} of ${chatbots.length} chatbots failed (${failed.join(", ")})`);
}
