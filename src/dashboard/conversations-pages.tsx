/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { z } from "zod";
import { listTeamChatbots } from "../chatbots/storage";
import { listConversations } from "../conversations/storage";
import { findCustomersByIds } from "../participants/storage";
import { Cursor } from "../shared/cursor";
import type { DashboardEnv } from "./auth";
import { formatTime, Layout, PAGE_HEADERS, Value } from "./layout";

/** /dashboard/conversations: the list, and each conversation's page. */
export const conversationPages = new Hono<DashboardEnv>();

const PAGE_SIZE = 50;

// A filter that does not parse is ignored, not an error page: the form shows what applies.
const ListQuery = z.object({
  chatbot_id: z.string().max(64).optional().catch(undefined),
  metadata_key: z.string().min(1).max(400).optional().catch(undefined),
  metadata_value: z.string().max(1000).optional().catch(undefined),
  cursor: Cursor.optional().catch(undefined),
});

conversationPages.get("/", async (c) => {
  const viewer = c.var.viewer;
  const query = ListQuery.parse(c.req.query());
  const chatbots = await listTeamChatbots(c.env.DB, viewer.teamId);
  const chatbotId = chatbots.some((bot) => bot.id === query.chatbot_id) ? query.chatbot_id : undefined;
  const metadataKey = query.metadata_key?.trim() || undefined;
  const metadataValue = metadataKey && query.metadata_value !== undefined && query.metadata_value !== "" ? query.metadata_value : undefined;
  const page = await listConversations(c.env.DB, {
    teamId: viewer.teamId,
    chatbotId,
    cursor: query.cursor,
    limit: PAGE_SIZE,
    metadata: metadataKey ? { key: metadataKey, value: metadataValue } : undefined,
  });
  const customers = await findCustomersByIds(c.env.DB, [...new Set(page.rows.map((row) => row.participant_id))]);
  const names = new Map(chatbots.map((bot) => [bot.id, bot.name]));
  const keep = new URLSearchParams();
  if (chatbotId) keep.set("chatbot_id", chatbotId);
  if (metadataKey) keep.set("metadata_key", metadataKey);
  if (metadataValue !== undefined) keep.set("metadata_value", metadataValue);
  const nextHref = page.nextCursor ? `?${new URLSearchParams([...keep, ["cursor", page.nextCursor]])}` : null;
  return c.html(
    <Layout title="Conversations" current="conversations" viewer={viewer}>
      <h1>Conversations</h1>
      <form method="get" class="filters" role="search" aria-label="Filter conversations">
        <div>
          <label for="f-chatbot">Chatbot</label>
          <select id="f-chatbot" name="chatbot_id">
            <option value="">All chatbots</option>
            {chatbots.map((bot) => (
              <option value={bot.id} selected={bot.id === chatbotId}>
                {bot.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="f-key">Metadata key</label>
          <input id="f-key" name="metadata_key" value={metadataKey ?? ""} placeholder="chat-widget:plan" />
        </div>
        <div>
          <label for="f-value">Metadata value</label>
          <input id="f-value" name="metadata_value" value={metadataValue ?? ""} placeholder="any value" />
        </div>
        <button type="submit">Filter</button>
      </form>
      {metadataKey ? (
        <p class="help">Metadata filters read the listing index, which follows each conversation within about 30 seconds.</p>
      ) : null}
      {page.rows.length === 0 ? (
        <p>No conversations{metadataKey || chatbotId ? " match these filters" : " yet"}.</p>
      ) : (
        <table>
          <caption class="visually-hidden">Conversations, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Conversation</th>
              <th scope="col">Customer</th>
              <th scope="col">Chatbot</th>
              <th scope="col">Started</th>
              <th scope="col">Last message</th>
              <th scope="col">Messages</th>
            </tr>
          </thead>
          <tbody>
            {page.rows.map((row) => {
              const customer = customers.get(row.participant_id);
              return (
                <tr>
                  <td>
                    <a href={`/dashboard/conversations/${row.id}`}>{row.id}</a>
                  </td>
                  <td>
                    <Value>{customer?.name ?? customer?.email ?? "Anonymous"}</Value>
                  </td>
                  <td>
                    <Value>{names.get(row.chatbot_id) ?? row.chatbot_id}</Value>
                  </td>
                  <td>{formatTime(row.started_at)}</td>
                  <td>{formatTime(row.last_message_at)}</td>
                  <td>{row.message_count}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
        {query.cursor ? <a href={`?${keep}`}>First page</a> : null}
        {nextHref ? <a href={nextHref}>Next page</a> : null}
      </nav>
    </Layout>,
    200,
    PAGE_HEADERS,
  );
});
