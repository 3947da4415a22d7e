import type { Context } from "hono";

/**
 * Sends what a request cost its storage layers as `Chat-Context-Cost`, one
 * `kebab-name=count` per counter in the order given: `{ doRowsRead: 2 }` becomes
 * `do-rows-read=2`. Operators, tests and the bench read it.
 */
export function setCostHeader(c: Context, counters: Record<string, number>): void {
  const parts = Object.entries(counters).map(([name, count]) => `${name.replace(/[A-Z]/g, (letter) => "-" + letter.toLowerCase())}=${count}`);
  c.header("Chat-Context-Cost", parts.join(", "));
}
