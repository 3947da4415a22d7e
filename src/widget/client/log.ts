// The widget's console messages: warnings only, tagged, never an exception into the page.
export function warn(...args: unknown[]): void {
  console.warn("[chat-context]", ...args);
}
