// The chatbot page's Actions section in Chromium, as a person uses it: create an action from
// the page, run it against a conversation and see its result, logs and duration, see the run
// in the last runs, and a syntax error shown next to the code with its line and column.
// Keyboard only for the run; axe and a screenshot.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectAccessible, SCREENSHOTS, signIn } from "./dashboard-support";
import { api, createChatbot, launch } from "./support";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

const POLL = { timeout: 15_000 };
const HOSTILE = '<script>window.pwned=1</script> "><img src=x onerror="window.pwned=2"> \u202Eevil';

const CODE = `import { getConversationMetadata } from "chat-context";

export default async function (context) {
  const userId = await getConversationMetadata(context, "chat-widget:user_id");
  console.log("looked up", userId);
  console.log(${JSON.stringify(HOSTILE)});
  return { userId, asked: context.input };
}
`;

describe("dashboard custom actions", () => {
  it("creates an action, runs it against a conversation, lists the run, and shows a syntax error's line and column", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: "Actions bot" });
    const started = await api("POST", "/v1/widget/conversations", {
      body: { chatbot_id: chatbotId, data: { user_id: "user-42" } },
    });
    expect(started.status, started.text).toBe(201);
    const conversationId = started.json.conversation_id as string;

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page: Page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error" && !/status of [45]\d\d/.test(message.text())) problems.push(message.text());
    });
    await signIn(page, apiKey, `/dashboard/chatbots/${chatbotId}`);
    const section = page.getByRole("region", { name: "Actions" });
    await expect.poll(() => section.getByText("No actions yet.").isVisible(), POLL).toBe(true);

    // Create from the page.
    const create = section.locator("form[data-action-create]");
    await create.getByLabel("Name").fill("Account lookup");
    await create.getByLabel("Code (JavaScript module)").fill(CODE);
    await create.getByRole("button", { name: "Create action" }).click();
    await expect.poll(() => section.getByRole("status").filter({ hasText: "Action created." }).count(), POLL).toBe(1);
    const listed = await api("GET", "/v1/actions", { token: apiKey });
    expect(listed.json.actions).toHaveLength(1);
    const actionId = listed.json.actions[0].id as string;
    expect(listed.json.actions[0].chatbot_id).toBe(chatbotId);
    const article = section.locator(`article[data-action-id="${actionId}"]`);
    await expect.poll(() => article.getByRole("heading", { name: "Account lookup" }).isVisible(), POLL).toBe(true);

    // Run against the conversation, keyboard only from the conversation select.
    const run = article.locator("form[data-action-run]");
    await run.getByLabel("Conversation").selectOption(conversationId);
    await run.getByLabel("Input (JSON, optional)").fill('{"plan": "pro"}');
    await run.getByLabel("Input (JSON, optional)").focus();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute("aria-label"))).toBe(
      "Run action Account lookup",
    );
    await page.keyboard.press("Enter");
    await expect.poll(() => run.getByRole("status").textContent(), POLL).toMatch(/^Ran in \d+ ms\.$/);
    const result = await run.locator("[data-run-result]").textContent();
    expect(JSON.parse(result ?? "")).toEqual({ userId: "user-42", asked: { plan: "pro" } });
    expect(result).toContain('\n  "userId": "user-42"');
    const logs = await run.locator("[data-run-logs]").textContent();
    expect(logs).toBe(`looked up user-42\n${HOSTILE}`);

    // The run is in the last runs, with its logs (text, never markup).
    const runs = article.locator(`#action-${actionId}-runs`);
    await expect.poll(() => runs.locator("li.run-ok").count(), POLL).toBe(1);
    expect(await runs.locator(`a[href="/dashboard/conversations/${conversationId}"]`).count()).toBe(1);
    await runs.getByText("Logs (2 lines)").click();
    expect(await runs.locator("pre.run-logs").textContent()).toBe(`looked up user-42\n${HOSTILE}`);
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();

    // The next runs are dry runs: no conversation, no input.
    await run.getByLabel("Conversation").selectOption("");
    await run.getByLabel("Input (JSON, optional)").fill("");
    const edit = article.locator("form[data-action-edit]");
    // A syntax error: shown next to the code with its line and column, nothing saved.
    await edit.getByLabel("Code (JavaScript module)").fill("export default async () => {\n  return 1 +;\n};");
    await edit.getByRole("button", { name: "Save action Account lookup" }).click();
    const codeError = article.locator(`#action-${actionId}-code-error`);
    await expect.poll(() => codeError.isVisible(), POLL).toBe(true);
    expect(await codeError.textContent()).toMatch(/line 2, column \d+/);
    expect(await edit.getByLabel("Code (JavaScript module)").getAttribute("aria-invalid")).toBe("true");
    expect((await api("GET", `/v1/actions/${actionId}`, { token: apiKey })).json.version).toBe(1);

    // Code that throws: the 422's error and logs, and a failed run listed first.
    await edit
      .getByLabel("Code (JavaScript module)")
      .fill('export default async () => { console.log("before"); throw new Error("no account"); };');
    await edit.getByRole("button", { name: "Save action Account lookup" }).click();
    await expect.poll(() => edit.getByRole("status").textContent(), POLL).toBe("Saved: version 2.");
    await run.getByRole("button", { name: "Run action Account lookup" }).click();
    await expect.poll(() => run.getByRole("status").textContent(), POLL).toMatch(/^Failed after \d+ ms\.$/);
    expect(await run.locator("[data-run-result]").textContent()).toContain("no account");
    expect(await run.locator("[data-run-logs]").textContent()).toBe("before");
    await expect.poll(() => runs.locator("li").count(), POLL).toBe(2);
    expect(await runs.locator("li").first().getAttribute("class")).toBe("run-failed");

    await expectAccessible(page);
    await section.screenshot({ path: `${SCREENSHOTS}/dashboard-actions.png` });
    expect(problems).toEqual([]);
    await context.close();
  }, 120_000);
});
