import { WIDGET_STORAGE_PREFIX } from "../shared/key-prefixes";
import { SNIPPETS } from "./snippets";

/**
 * The playground's HTML: the page shell, the playground itself and the unknown-chatbot page.
 * Every interpolated value is escaped, and isolated (dir="auto", or FSI...PDI in the title)
 * so its own bidi controls (U+202E) cannot reorder the text around it. The page's own
 * script and styles are static assets (`/playground.js`, `/playground.css`, built from
 * src/playground/client/), so the Content-Security-Policy admits no inline script or style.
 */

const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The headers every playground page is served with. */
export const PAGE_HEADERS = {
  "Content-Security-Policy": PLAYGROUND_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
};

/** `& < > " '` as numeric entities. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function shell(title: string, body: string): string {
  return `<!doctype html>
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
}

/** The page for an id that is no chatbot's. */
export function chatbotNotFoundPage(id: string): string {
  return shell(
    "Chatbot not found · Chat Context playground",
    `<main class="notfound">
<h1>Chatbot not found</h1>
<p>There is no chatbot with the id <code dir="auto">${escapeHtml(id)}</code>. Check the id in the address: it is the <code>id</code> that <code>POST /v1/chatbots</code> returned.</p>
</main>`,
  );
}

/** The playground of a chatbot; `origin` is the service's, for the embed snippet. */
export function playgroundPage(chatbot: { id: string; name: string }, origin: string): string {
  const snippets = SNIPPETS.map(
    (snippet, index) => `<figure class="snippet">
<figcaption id="snippet-${index}">${escapeHtml(snippet.title)}</figcaption>
<pre><code>${escapeHtml(snippet.code)}</code></pre>
<button type="button" class="copy" aria-describedby="snippet-${index}">Copy</button>
</figure>`,
  ).join("\n");
  const name = escapeHtml(chatbot.name);
  const chatbotId = escapeHtml(chatbot.id);
  return shell(
    // U+2068 FIRST STRONG ISOLATE ... U+2069 POP DIRECTIONAL ISOLATE: a title holds no elements.
    `\u2068${chatbot.name}\u2069 · Chat Context playground`,
    `<main id="playground" data-chatbot-id="${chatbotId}">
<header class="intro">
<h1>Playground: <span class="name" dir="auto">${name}</span></h1>
<p>Chatbot <code>${chatbotId}</code>. The chat launcher is at the bottom right of this page: this is the widget exactly as a website embeds it.</p>
</header>
<div class="columns">
<section aria-labelledby="try-heading">
<h2 id="try-heading">Try custom data</h2>
<ol>
<li>Open DevTools (F12, or Cmd+Option+I on a Mac) and go to the <strong>Console</strong> tab.</li>
<li>Paste a snippet below: keys with the exact prefix <code>${escapeHtml(WIDGET_STORAGE_PREFIX)}</code> are read by the widget.</li>
<li>Open the chat and send a message. The reply summarizes what arrived; the panel shows what is stored.</li>
<li>Set more values mid-conversation: they arrive with the next message.</li>
</ol>
${snippets}
<h3>Embed it on your site</h3>
<pre><code class="embed">${escapeHtml(`<script src="${origin}/widget.js" data-chatbot-id="${chatbot.id}" async></script>`)}</code></pre>
</section>
<section aria-labelledby="stored-heading" class="stored">
<h2 id="stored-heading">Stored on the conversation</h2>
<p id="conversation-status" role="status">No conversation yet: open the chat and send a message.</p>
<p class="conversation">Conversation <code id="conversation-id">none</code></p>
<h3>Metadata</h3>
<table id="metadata"><thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead><tbody></tbody></table>
<h3>Customer record</h3>
<table id="customer"><tbody>
<tr><th scope="row">name</th><td data-field="name" dir="auto"></td></tr>
<tr><th scope="row">email</th><td data-field="email" dir="auto"></td></tr>
<tr><th scope="row">phone</th><td data-field="phone" dir="auto"></td></tr>
<tr><th scope="row">timezone</th><td data-field="timezone" dir="auto"></td></tr>
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
}
