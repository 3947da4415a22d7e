import { Hono, type Context } from "hono";
import { findChatbot } from "../chatbots/storage";
import { conversationStub } from "../conversations/stub";
import { bearer, verifyConversationToken } from "../shared/auth";
import { unauthorized } from "../shared/problem";

/**
 * The playground: `/playground/:chatbot_id` embeds the widget beside a panel that shows
 * what the conversation stored (metadata `chat-widget:*` and the customer record), and
 * the Octocom spec's DevTools snippets. The page's own script and styles are static
 * assets (`/playground.js`, `/playground.css`, built from src/widget/client/), so the
 * Content-Security-Policy admits no inline script or style at all.
 */
export const playgroundRoutes = new Hono<{ Bindings: Env }>();

export const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const METADATA_PREFIX = "chat-widget:";

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** The spec's DevTools snippets (its test email is a placeholder of ours: the published page obfuscates it). */
export const SNIPPETS: { title: string; code: string }[] = [
  {
    title: "Set your test values",
    code: 'localStorage.setItem("octocom:data:user_id", "test-123");\nlocalStorage.setItem("octocom:data:email", "test@example.com");',
  },
  {
    title: "Set multiple values",
    code: 'localStorage.setItem("octocom:data:plan", "enterprise");\nlocalStorage.setItem("octocom:data:company", "Acme Corp");',
  },
  {
    title: "Structured data: serialize it as JSON",
    code:
      'localStorage.setItem("octocom:data:recent_orders", JSON.stringify([\n' +
      '  { id: "ORD-001", total: 59.99, date: "2025-03-15" },\n' +
      '  { id: "ORD-002", total: 124.5, date: "2025-03-28" },\n' +
      "]));",
  },
  {
    title: "Remove a value (the conversation keeps what it already stored)",
    code: 'localStorage.removeItem("octocom:data:user_id");',
  },
];

function page(c: Context, status: 200 | 404, title: string, body: string) {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/playground.css">
</head>
<body>
${body}
</body>
</html>
`;
  return c.html(html, status, {
    "Content-Security-Policy": PLAYGROUND_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
  });
}

/**
 * The panel's data: the conversation's `chat-widget:*` metadata, read from its Durable
 * Object (the truth, not the D1 projection that lags), and the participant's customer
 * record. Authorised by the conversation token the widget holds, so a playground page
 * only ever sees its own conversation.
 */
playgroundRoutes.get("/api/conversations/:id", async (c) => {
  const token = bearer(c.req.header("Authorization"));
  if (!token) throw unauthorized("Send the conversation token as `Authorization: Bearer <token>`.");
  const claims = await verifyConversationToken(c.env.TOKEN_SECRET, token);
  if (!claims || claims.c !== c.req.param("id")) throw unauthorized("The conversation token is not valid for this conversation.");
  const [snapshot, customer] = await Promise.all([
    conversationStub(c.env, claims.c).snapshot(),
    c.env.DB.prepare("SELECT name, email, phone, timezone FROM participants WHERE id = ?")
      .bind(claims.p)
      .first<{ name: string | null; email: string | null; phone: string | null; timezone: string | null }>(),
  ]);
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(snapshot.metadata)) if (key.startsWith(METADATA_PREFIX)) metadata[key] = value;
  c.header("Cache-Control", "no-store");
  return c.json({
    conversation_id: claims.c,
    participant_id: claims.p,
    metadata,
    customer: customer ?? { name: null, email: null, phone: null, timezone: null },
    message_count: snapshot.message_count,
  });
});

playgroundRoutes.get("/:chatbot_id", async (c) => {
  const id = c.req.param("chatbot_id");
  const chatbot = id.length <= 64 ? await findChatbot(c.env.DB, id) : null;
  if (!chatbot) {
    return page(
      c,
      404,
      "Chatbot not found · Chat Context playground",
      `<main class="notfound">
<h1>Chatbot not found</h1>
<p>There is no chatbot with the id <code>${escapeHtml(id)}</code>. Check the id in the address: it is the <code>id</code> that <code>POST /v1/chatbots</code> returned.</p>
</main>`,
    );
  }
  const snippets = SNIPPETS.map(
    (snippet, index) => `<figure class="snippet">
<figcaption id="snippet-${index}">${escapeHtml(snippet.title)}</figcaption>
<pre><code>${escapeHtml(snippet.code)}</code></pre>
<button type="button" class="copy" aria-describedby="snippet-${index}">Copy</button>
</figure>`,
  ).join("\n");
  const name = escapeHtml(chatbot.name);
  const chatbotId = escapeHtml(chatbot.id);
  return page(
    c,
    200,
    `${chatbot.name} · Chat Context playground`,
    `<main id="playground" data-chatbot-id="${chatbotId}">
<header class="intro">
<h1>Playground: <span class="name">${name}</span></h1>
<p>Chatbot <code>${chatbotId}</code>. The chat launcher is at the bottom right of this page: this is the widget exactly as a website embeds it.</p>
</header>
<div class="columns">
<section aria-labelledby="try-heading">
<h2 id="try-heading">Try custom data</h2>
<ol>
<li>Open DevTools (F12, or Cmd+Option+I on a Mac) and go to the <strong>Console</strong> tab.</li>
<li>Paste a snippet below: keys with the exact prefix <code>octocom:data:</code> are read by the widget.</li>
<li>Open the chat and send a message. The reply summarises what arrived; the panel shows what is stored.</li>
<li>Set more values mid-conversation: they arrive with the next message.</li>
</ol>
${snippets}
<h3>Embed it on your site</h3>
<pre><code class="embed">${escapeHtml(`<script src="${new URL(c.req.url).origin}/widget.js" data-chatbot-id="${chatbot.id}" async></script>`)}</code></pre>
</section>
<section aria-labelledby="stored-heading" class="stored">
<h2 id="stored-heading">Stored on the conversation</h2>
<p id="conversation-status" role="status">No conversation yet: open the chat and send a message.</p>
<p class="conversation">Conversation <code id="conversation-id">none</code></p>
<h3>Metadata</h3>
<table id="metadata"><thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead><tbody></tbody></table>
<h3>Customer record</h3>
<table id="customer"><tbody>
<tr><th scope="row">name</th><td data-field="name"></td></tr>
<tr><th scope="row">email</th><td data-field="email"></td></tr>
<tr><th scope="row">phone</th><td data-field="phone"></td></tr>
<tr><th scope="row">timezone</th><td data-field="timezone"></td></tr>
</tbody></table>
<h3>In this page's localStorage</h3>
<table id="local"><thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead><tbody></tbody></table>
<p><button type="button" id="new-conversation">Start a new conversation</button></p>
</section>
</div>
</main>
<script src="/playground.js" defer></script>
<script src="/widget.js" data-chatbot-id="${chatbotId}" data-expose-conversation async></script>`,
  );
});
