// Helpers for the dashboard's browser tests: sign in as a person does, check a page with
// axe-core, and keep a screenshot of it (test/browser/screenshots/, looked at by hand).
import axeSource from "axe-core/axe.min.js?raw";
import type { Page } from "playwright-core";
import { expect } from "vitest";
import { BASE } from "./support";

/** Signs in through the sign-in page, as a person does, and lands on `next`. */
export async function signIn(page: Page, apiKey: string, next = "/dashboard/conversations"): Promise<void> {
  await page.goto(`${BASE}/dashboard/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Team API key").fill(apiKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname === next.split("?")[0]);
}

type AxeResult = { violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] };

/**
 * Runs axe-core in the page and fails on any serious or critical violation. The script
 * is evaluated through the DevTools protocol, which the page's CSP does not govern (a
 * script tag would be refused by it, as it should be).
 */
export async function expectAccessible(page: Page): Promise<void> {
  await page.evaluate(axeSource);
  const result = (await page.evaluate(() =>
    (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ["violations"] }),
  )) as AxeResult;
  const serious = result.violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical");
  expect(
    serious.map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.map((node) => node.target.join(" ")).join(", ")})`),
  ).toEqual([]);
}

/** Where page screenshots go (ignored by git; the tests check pages, a person looks at these). */
export const SCREENSHOTS = "test/browser/screenshots";
