// Shared helpers of the browser suite. This file is also compiled by the root tsconfig
// (Worker types, no Node or DOM types): it imports nothing from `node:`, and code run
// in the page reaches the page's globals through `globalThis as any`.
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from "playwright-core";
import { inject } from "vitest";
import { readResponse } from "../support/responses";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    adminToken: string;
  }
}

/** The service under test: `wrangler dev` on a loopback port (global-setup.mjs). */
export const BASE = inject("baseUrl");
const ADMIN_TOKEN = inject("adminToken");

/**
 * A third-party site embedding the widget: its pages are answered by the test
 * (page.route), never fetched, so nothing leaves the machine. `*.localhost` is
 * loopback by definition, and it is another origin than the service's.
 */
export const SITE = "http://shop.localhost:4173";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Debian's Chromium; playwright-core gives each launch a fresh temporary profile. */
export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true });
}

export async function api(method: string, path: string, options: { token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return readResponse(await fetch(BASE + path, { method, headers, body }));
}

let teams = 0;

/** A team (through the admin route) and a chatbot of it (through its API key). */
export async function createChatbot(body: Record<string, unknown> = {}) {
  const team = await api("POST", "/v1/admin/teams", { token: ADMIN_TOKEN, body: { name: `browser team ${++teams}` } });
  if (team.status !== 201) throw new Error(`team: ${team.status} ${team.text}`);
  const apiKey = team.json.api_key as string;
  const chatbot = await api("POST", "/v1/chatbots", { token: apiKey, body: { name: "Browser bot", ...body } });
  if (chatbot.status !== 201) throw new Error(`chatbot: ${chatbot.status} ${chatbot.text}`);
  return { apiKey, chatbotId: chatbot.json.id as string };
}

/**
 * The site's page: hostile styles (they must not reach the widget), the script tag
 * exactly as the docs give it, and a script after it that must still run.
 */
export function sitePage(chatbotId: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop</title>
<style>
  * { color: rgb(255, 0, 0) !important; font-family: serif !important; }
  button, textarea, form, section { display: none !important; }
  body { background: rgb(214, 200, 170); }
</style></head>
<body>
<h1>Acme shop</h1>
<p>Some page content.</p>
<script src="${BASE}/widget.js" data-chatbot-id="${chatbotId}" async></script>
<script>window.siteScriptRan = true;</script>
</body></html>`;
}

export type Site = {
  context: BrowserContext;
  page: Page;
  messageBodies: any[];
  startBodies: any[];
  warnings: string[];
  pageErrors: string[];
};

/**
 * A fresh context (its own storage) on the site's page, recording what the widget sends;
 * `prepare` runs on the context before the page loads (init scripts, WebSocket routes).
 */
export async function openSite(
  browser: Browser,
  chatbotId: string,
  options: BrowserContextOptions = {},
  prepare?: (context: BrowserContext) => Promise<unknown>,
): Promise<Site> {
  // The site is "public" to Chromium and the service under test is on loopback: Local
  // Network Access asks the visitor for permission, granted here as a visitor would.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, permissions: ["local-network-access"], ...options });
  await prepare?.(context);
  await context.route(`${SITE}/**`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: sitePage(chatbotId) }),
  );
  const page = await context.newPage();
  const site: Site = { context, page, messageBodies: [], startBodies: [], warnings: [], pageErrors: [] };
  page.on("request", (request) => {
    if (request.method() !== "POST" || !request.url().startsWith(`${BASE}/v1/widget/conversations`)) return;
    const body = JSON.parse(request.postData() ?? "null");
    if (request.url().endsWith("/messages")) site.messageBodies.push(body);
    else site.startBodies.push(body);
  });
  page.on("console", (message) => {
    if (message.type() === "warning") site.warnings.push(message.text());
  });
  page.on("pageerror", (error) => site.pageErrors.push(String(error)));
  await page.goto(`${SITE}/`);
  return site;
}

export function setData(page: Page, pairs: Record<string, string>): Promise<void> {
  return page.evaluate((entries) => {
    for (const [key, value] of entries) (globalThis as any).localStorage.setItem(key, value);
  }, Object.entries(pairs));
}

/** The widget's own state for a chatbot (its localStorage key). */
export function widgetState(page: Page, chatbotId: string): Promise<any> {
  return page.evaluate((key) => JSON.parse((globalThis as any).localStorage.getItem(key) ?? "null"), `chat-context:state:${chatbotId}`);
}

export const launcher = (page: Page) => page.getByRole("button", { name: "Open chat", exact: true });
export const messageBox = (page: Page) => page.getByRole("textbox", { name: "Message", exact: true });
export const sendButton = (page: Page) => page.getByRole("button", { name: "Send", exact: true });
export const botMessages = (page: Page) => page.locator("chat-context-widget .msg.bot");

/** Types a message, sends it with the Send button and waits for the bot's reply to it. */
export async function send(page: Page, text: string): Promise<string> {
  const before = await botMessages(page).count();
  await messageBox(page).fill(text);
  await sendButton(page).click();
  const reply = botMessages(page).nth(before);
  await reply.waitFor();
  // The reply isolates each quoted value (U+2068…U+2069); compare the visible text.
  return ((await reply.textContent()) ?? "").replace(/[\u2066-\u2069]/g, "");
}
