import { describe, expect, it } from "vitest";
import { api, BASE } from "./support";

/** The published budget for the embeddable widget (docs/widget.md). */
const WIDGET_GZIP_BUDGET_BYTES = 10 * 1024;

async function gzippedSize(bytes: ArrayBuffer): Promise<number> {
  const stream = new Response(bytes).body!.pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

describe("static assets next to the Worker", () => {
  it("serves /widget.js as JavaScript, at most 10 KB gzipped", async () => {
    const response = await fetch(`${BASE}/widget.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/javascript/);
    const bytes = await response.arrayBuffer();
    expect(bytes.byteLength).toBeGreaterThan(1000);
    const gzipped = await gzippedSize(bytes);
    console.log(`widget.js: ${bytes.byteLength} bytes, ${gzipped} gzipped (budget ${WIDGET_GZIP_BUDGET_BYTES})`);
    expect(gzipped).toBeLessThanOrEqual(WIDGET_GZIP_BUDGET_BYTES);
  });

  it("serves the playground's script and styles", async () => {
    for (const [path, type] of [
      ["/playground.js", /javascript/],
      ["/playground.css", /text\/css/],
    ] as const) {
      const response = await fetch(BASE + path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("Content-Type"), path).toMatch(type);
    }
  });

  it("leaves every other path to the Worker: problem+json 404, health, API", async () => {
    const missing = await api("GET", "/no-such-thing.js");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("Content-Type")).toMatch(/^application\/problem\+json/);
    expect(missing.json.status).toBe(404);
    expect((await api("GET", "/healthz")).json).toEqual({ ok: true });
    expect((await api("GET", "/v1/chatbots/nope")).status).toBe(401);
  });
});
