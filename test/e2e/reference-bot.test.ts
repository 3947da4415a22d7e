// The reference bot (examples/reference-bot/bot.mjs) answering a visitor in the widget, live:
// the visitor types in Chromium; the bot hears `message.created` by webhook (verified with the
// Standard Webhooks library), renders the participant's prompt and answers through the API;
// the answer, quoting a value of {participant_data}, appears in the open widget without reload.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBot } from "../../examples/reference-bot/bot.mjs";
import { api, BASE, botMessages, createChatbot, launch, launcher, messageBox, openSite, sendButton, setData } from "../browser/support";

let browser: Browser;
let server: Server | null = null;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  server?.close();
});

describe("the reference bot", () => {
  it("answers in the widget, live, quoting the participant's data", async () => {
    const { apiKey, chatbotId } = await createChatbot({ stand_in_replies: false });
    // The visitor is a signed-in customer whose participant already holds data.
    const participant = await api("POST", "/v1/participants", {
      token: apiKey,
      body: { chatbot_id: chatbotId, channel: "web", identifier: "customer-7", name: "Ona", data: { plan: "gold" } },
    });
    expect(participant.status).toBe(201);
    const secret = (await api("POST", `/v1/chatbots/${chatbotId}/identity-secret`, { token: apiKey })).json.secret as string;
    const identity = await new SignJWT({ sub: "customer-7" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(secret));

    // The bot, listening on loopback, subscribed to the chatbot's messages.
    let webhookSecret = "";
    let handle: ReturnType<typeof createBot> | null = null;
    server = createServer((request, response) => void handle?.(request, response));
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const hook = await api("POST", "/v1/webhooks", {
      token: apiKey,
      body: { url: `http://127.0.0.1:${port}/`, events: ["message.created"], chatbot_id: chatbotId },
    });
    expect(hook.status).toBe(201);
    webhookSecret = hook.json.secret;
    handle = createBot({ baseUrl: BASE, apiKey, webhookSecret });

    const site = await openSite(browser, chatbotId);
    await setData(site.page, { "octocom:identity_token": identity });
    await launcher(site.page).click();
    await messageBox(site.page).fill("Hello, which plan am I on?");
    await sendButton(site.page).click();
    const answer = botMessages(site.page).filter({ hasText: "Your plan is gold" });
    await answer.waitFor({ timeout: 30_000 });
    expect(await answer.textContent()).toContain('"plan":"gold"');
    await site.page.screenshot({ path: "test/browser/screenshots/reference-bot.png" });
    await site.context.close();
  }, 60_000);
});
