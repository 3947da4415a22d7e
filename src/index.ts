import { exportAnalyticsDaily } from "./analytics/export-cron";
import { app } from "./app";
import { deliverWebhooks } from "./webhooks/deliver";

export { ActionOutbound } from "./actions/outbound";
export { ConversationObject } from "./conversations/conversation-object";
export { ScheduleObject } from "./schedules/schedule-object";
export { app };

/** HTTP through the Hono app; the webhook queue's batches through its consumer; the daily analytics export by cron. */
export default { fetch: app.fetch, queue: deliverWebhooks, scheduled: exportAnalyticsDaily } satisfies ExportedHandler<Env>;
