import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  api,
  BASE,
  botMessages,
  createChatbot,
  launch,
  launcher,
  messageBox,
  openSite,
  send,
  sendButton,
  setData,
  widgetState,
} from "./support";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

const panel = (page: Page) => page.getByRole("dialog", { name: "Chat" });
const isFocused = (_page: Page, locator: ReturnType<typeof launcher>) =>
  locator.evaluate((node: any) => node.getRootNode().activeElement === node);

describe("the widget in Chromium", () => {
  it("is usable by keyboard: Enter opens and sends, Escape closes and gives focus back", async () => {
    const { chatbotId } = await createChatbot();
    const { page, context, pageErrors } = await openSite(browser, chatbotId);
    await launcher(page).waitFor();
    expect(await launcher(page).getAttribute("aria-expanded")).toBe("false");
    // The launcher is the page's only focusable control: the first Tab reaches it.
    await page.keyboard.press("Tab");
    expect(await isFocused(page, launcher(page))).toBe(true);
    await page.keyboard.press("Enter");
    await panel(page).waitFor();
    expect(await launcher(page).getAttribute("aria-expanded")).toBe("true");
    expect(await isFocused(page, messageBox(page))).toBe(true);

    await page.keyboard.type("Typed and sent with Enter");
    await page.keyboard.press("Enter");
    await botMessages(page).first().waitFor();
    expect(await page.locator("chat-context-widget .msg.visitor").first().textContent()).toBe("Typed and sent with Enter");
    expect(await messageBox(page).inputValue()).toBe("");
    // Shift+Enter is a new line, not a send.
    await page.keyboard.type("line one");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("line two");
    expect(await messageBox(page).inputValue()).toBe("line one\nline two");
    expect(await page.locator("chat-context-widget .msg.visitor").count()).toBe(1);

    await page.keyboard.press("Escape");
    await panel(page).waitFor({ state: "hidden" });
    expect(await launcher(page).getAttribute("aria-expanded")).toBe("false");
    expect(await isFocused(page, launcher(page))).toBe(true);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it("keeps the page's styles out (Shadow DOM) and the page's own scripts running", async () => {
    const { chatbotId } = await createChatbot();
    const { page, context } = await openSite(browser, chatbotId);
    await launcher(page).click();
    const style = await sendButton(page).evaluate((node: any) => {
      const computed = (globalThis as any).getComputedStyle(node);
      return { color: computed.color, display: computed.display, font: computed.fontFamily };
    });
    // The page sets `* { color: red; font-family: serif }` and hides every button with !important.
    expect(style.color).not.toBe("rgb(255, 0, 0)");
    expect(style.display).not.toBe("none");
    expect(style.font).not.toBe("serif");
    expect(await sendButton(page).isVisible()).toBe(true);
    expect(await page.evaluate(() => (globalThis as any).siteScriptRan)).toBe(true);
    await context.close();
  });

  it("resumes the conversation after a reload, with its messages and the unsent draft", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await launcher(page).click();
    await send(page, "before the reload, one");
    await send(page, "before the reload, two");
    await messageBox(page).fill("a draft I did not send");
    const before = await widgetState(page, chatbotId);

    await page.reload();
    // It was open: it opens again, and reads the conversation's messages (GET .../messages).
    await panel(page).waitFor();
    await botMessages(page).nth(1).waitFor();
    const texts = await page.locator("chat-context-widget .msg").allTextContents();
    expect(texts.filter((text) => text.startsWith("before the reload"))).toEqual(["before the reload, one", "before the reload, two"]);
    expect(texts).toHaveLength(4);
    expect(await messageBox(page).inputValue()).toBe("a draft I did not send");

    await send(page, "after the reload");
    const after = await widgetState(page, chatbotId);
    expect(after.conversation_id).toBe(before.conversation_id);
    expect(after.visitor_id).toBe(before.visitor_id);
    expect(site.startBodies).toHaveLength(1);
    const messages = await api("GET", `/v1/conversations/${before.conversation_id}/messages`, { token: apiKey });
    expect(messages.json.messages.filter((m: any) => m.role === "visitor").map((m: any) => m.text)).toEqual([
      "before the reload, one",
      "before the reload, two",
      "after the reload",
    ]);
    await site.context.close();
  });

  it("shows a failed send, keeps its text and what is typed, and sends it on Retry", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await launcher(page).click();
    await send(page, "this one goes through");

    // The network fails for exactly one message.
    let aborted = 0;
    await page.route(`${BASE}/v1/widget/conversations/*/messages`, async (route) => {
      if (route.request().method() === "POST" && aborted === 0) {
        aborted++;
        return route.abort("internetdisconnected");
      }
      return route.fallback();
    });
    await setData(page, { "octocom:data:plan": "gold" });
    await messageBox(page).fill("this one fails first");
    await sendButton(page).click();
    const failed = page.locator("chat-context-widget .msg.failed");
    await failed.waitFor();
    expect(await failed.textContent()).toContain("this one fails first");
    expect(await failed.textContent()).toContain("Not sent");
    expect(aborted).toBe(1);
    // The page is unharmed and the visitor can keep typing.
    expect(site.pageErrors).toEqual([]);
    await messageBox(page).fill("still typing");

    const state = await widgetState(page, chatbotId);
    const stored = await api("GET", `/v1/conversations/${state.conversation_id}/messages`, { token: apiKey });
    expect(stored.json.messages.map((m: any) => m.text)).not.toContain("this one fails first");

    await page.getByRole("button", { name: "Retry", exact: true }).click();
    await botMessages(page).nth(1).waitFor();
    expect(await failed.count()).toBe(0);
    expect(await messageBox(page).inputValue()).toBe("still typing");
    const after = await api("GET", `/v1/conversations/${state.conversation_id}`, { token: apiKey });
    expect(after.json.metadata["chat-widget:plan"]).toBe("gold");
    const messages = await api("GET", `/v1/conversations/${state.conversation_id}/messages`, { token: apiKey });
    const visitorTexts = messages.json.messages.filter((m: any) => m.role === "visitor").map((m: any) => m.text);
    expect(visitorTexts).toEqual(["this one goes through", "this one fails first"]);
    await site.context.close();
  });

  it("retries a conversation that could not start, without losing the message", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    let aborted = 0;
    await page.route(`${BASE}/v1/widget/conversations`, async (route) => {
      if (aborted === 0) {
        aborted++;
        return route.abort("connectionrefused");
      }
      return route.fallback();
    });
    await setData(page, { "octocom:data:user_id": "u-9" });
    await launcher(page).click();
    await messageBox(page).fill("hello while offline");
    await sendButton(page).click();
    await page.locator("chat-context-widget .msg.failed").waitFor();
    expect(site.warnings.join("\n")).toContain("sending failed");
    await page.getByRole("button", { name: "Retry", exact: true }).click();
    await botMessages(page).first().waitFor();
    const state = await widgetState(page, chatbotId);
    const conversation = await api("GET", `/v1/conversations/${state.conversation_id}`, { token: apiKey });
    expect(conversation.json.metadata["chat-widget:user_id"]).toBe("u-9");
    await site.context.close();
  });

  it("works without usable storage (blocked, or full) and never breaks the page", async () => {
    for (const breakStorage of [
      // Storage blocked outright (sandboxed frames, some privacy settings): the getter throws.
      `Object.defineProperty(window, "localStorage", { get() { throw new DOMException("denied", "SecurityError"); } });`,
      // Storage full (quota) or refusing writes (older private modes): every write throws.
      `Storage.prototype.setItem = function () { throw new DOMException("full", "QuotaExceededError"); };`,
    ]) {
      const { chatbotId } = await createChatbot();
      const site = await openSite(browser, chatbotId);
      await site.context.addInitScript({ content: breakStorage });
      await site.page.reload();
      await launcher(site.page).click();
      const reply = await send(site.page, "hello without storage");
      expect(reply).toContain("Customer record");
      await send(site.page, "and a second message in the same conversation");
      expect(site.startBodies).toHaveLength(1);
      expect(site.pageErrors).toEqual([]);
      expect(await site.page.evaluate(() => (globalThis as any).siteScriptRan)).toBe(true);
      await site.context.close();
    }
  });

  it("fits a phone-sized screen", async () => {
    const { chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId, {
      viewport: { width: 375, height: 667 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    });
    const { page } = site;
    await launcher(page).click();
    await send(page, "hello from a phone");
    const box = await panel(page).boundingBox();
    expect(box).not.toBeNull();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(375);
    expect(box!.y + box!.height).toBeLessThanOrEqual(667);
    for (const control of [messageBox(page), sendButton(page), page.getByRole("button", { name: "Close chat" })]) {
      const rect = await control.boundingBox();
      expect(rect).not.toBeNull();
      expect(rect!.x + rect!.width).toBeLessThanOrEqual(375);
      expect(rect!.y + rect!.height).toBeLessThanOrEqual(667);
      expect(rect!.height).toBeGreaterThanOrEqual(24);
    }
    await page.getByRole("button", { name: "Close chat" }).click();
    await panel(page).waitFor({ state: "hidden" });
    expect(await launcher(page).isVisible()).toBe(true);
    await site.context.close();
  });

  it("takes a screenshot of the open widget that shows the panel and the conversation", async () => {
    const { chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await setData(page, { "octocom:data:user_id": "test-123", "octocom:data:email": "test@example.com" });
    await launcher(page).waitFor();
    const closed = await page.screenshot({ path: "test-results/widget-closed.png" });
    await launcher(page).click();
    await send(page, "Hello! Can you see my data?");
    const open = await page.screenshot({ path: "test-results/widget-open.png" });
    expect(open.byteLength).toBeGreaterThan(10_000);

    // Decode both PNGs in the browser (a canvas) and compare them pixel by pixel.
    const decoder = await site.context.newPage();
    const stats = await decoder.evaluate(
      async ([closedPng, openPng]) => {
        const g = globalThis as any;
        async function pixels(base64: string) {
          const image = new g.Image();
          image.src = `data:image/png;base64,${base64}`;
          await image.decode();
          const canvas = g.document.createElement("canvas");
          canvas.width = image.width;
          canvas.height = image.height;
          const context = canvas.getContext("2d");
          context.drawImage(image, 0, 0);
          return { width: image.width, height: image.height, data: context.getImageData(0, 0, image.width, image.height).data };
        }
        const a = await pixels(closedPng);
        const b = await pixels(openPng);
        const isBrand = (d: Uint8ClampedArray, i: number) =>
          Math.abs(d[i]! - 47) < 12 && Math.abs(d[i + 1]! - 91) < 12 && Math.abs(d[i + 2]! - 234) < 12;
        let changed = 0;
        let brandClosed = 0;
        let brandOpen = 0;
        let minX = b.width;
        let minY = b.height;
        for (let y = 0; y < b.height; y++) {
          for (let x = 0; x < b.width; x++) {
            const i = (y * b.width + x) * 4;
            if (isBrand(a.data, i)) brandClosed++;
            if (isBrand(b.data, i)) brandOpen++;
            if (
              Math.abs(a.data[i]! - b.data[i]!) + Math.abs(a.data[i + 1]! - b.data[i + 1]!) + Math.abs(a.data[i + 2]! - b.data[i + 2]!) >
              30
            ) {
              changed++;
              minX = Math.min(minX, x);
              minY = Math.min(minY, y);
            }
          }
        }
        return {
          width: b.width,
          height: b.height,
          sameSize: a.width === b.width && a.height === b.height,
          changed,
          brandClosed,
          brandOpen,
          minX,
          minY,
        };
      },
      [(closed as any).toString("base64"), (open as any).toString("base64")] as [string, string],
    );
    expect(stats.sameSize).toBe(true);
    expect(stats.width).toBe(1280);
    // The launcher alone is a small blue disc; the open panel adds a blue header and the visitor's bubble.
    expect(stats.brandClosed).toBeGreaterThan(1000);
    expect(stats.brandOpen).toBeGreaterThan(stats.brandClosed + 15_000);
    // A panel of about 370 x 540 px appeared: a large change, at the bottom right.
    expect(stats.changed).toBeGreaterThan(100_000);
    expect(stats.minX).toBeGreaterThan(stats.width / 2);
    expect(stats.minY).toBeGreaterThan(100);
    await site.context.close();
  });
});
