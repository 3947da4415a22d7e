import { WIDGET_STORAGE_PREFIX } from "../shared/key-prefixes";

/**
 * The Octocom spec's DevTools snippets, shown on the playground page with Copy buttons (its
 * test email is a placeholder of ours: the published page obfuscates it).
 */
export const SNIPPETS: { title: string; code: string }[] = [
  {
    title: "Set your test values",
    code: `localStorage.setItem("${WIDGET_STORAGE_PREFIX}user_id", "test-123");\nlocalStorage.setItem("${WIDGET_STORAGE_PREFIX}email", "test@example.com");`,
  },
  {
    title: "Set multiple values",
    code: `localStorage.setItem("${WIDGET_STORAGE_PREFIX}plan", "enterprise");\nlocalStorage.setItem("${WIDGET_STORAGE_PREFIX}company", "Acme Corp");`,
  },
  {
    title: "Structured data: serialize it as JSON",
    code:
      `localStorage.setItem("${WIDGET_STORAGE_PREFIX}recent_orders", JSON.stringify([\n` +
      '  { id: "ORD-001", total: 59.99, date: "2025-03-15" },\n' +
      '  { id: "ORD-002", total: 124.5, date: "2025-03-28" },\n' +
      "]));",
  },
  {
    title: "Remove a value (the conversation keeps what it already stored)",
    code: `localStorage.removeItem("${WIDGET_STORAGE_PREFIX}user_id");`,
  },
];
