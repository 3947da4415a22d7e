import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PROMPT_MAX_BYTES } from "../../src/prompts/template";
import { call, expectProblem } from "../support/api";
import { createParticipant, teamWithChatbot } from "../support/participants";

const render = (apiKey: string, participantId: string, template: string) =>
  call("POST", "/v1/prompts/render", { token: apiKey, body: { participant_id: participantId, template } });

const cachedKeys = async (participantId: string) => (await env.RENDERS.list({ prefix: `render:r1:${participantId}:` })).keys;

describe("hostile input: prompt renders are bounded", () => {
  it("refuses a template repeating {participant_data} 1,000 times over ~64 KiB of data with 422 prompt-too-large, caching nothing", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { blob: "x".repeat(64 * 1024 - 20) } });
    const started = performance.now();
    const response = await render(apiKey, p.id, "{participant_data}".repeat(1_000));
    const ms = performance.now() - started;
    const body = expectProblem(response, 422);
    expect(body).toMatchObject({ type: "/problems/prompt-too-large", limit_bytes: PROMPT_MAX_BYTES });
    expect(ms).toBeLessThan(2_000);
    expect(await cachedKeys(p.id)).toEqual([]);
    // The participant still renders with a sensible template.
    const fine = await render(apiKey, p.id, "{participant_data.blob}");
    expect(fine.status).toBe(200);
    expect(fine.json.prompt).toHaveLength(64 * 1024 - 20);
  });

  it("allows a prompt up to 1 MiB of UTF-8 and refuses one byte-count past it, counting multi-byte characters", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    // 30,000 "é" are 30,000 UTF-16 units but 60,000 UTF-8 bytes.
    const p = await createParticipant(apiKey, chatbot.id, { data: { s: "é".repeat(30_000) } });
    const one = 60_000;
    const fits = Math.floor(PROMPT_MAX_BYTES / one); // 17 copies: 1,020,000 bytes
    const ok = await render(apiKey, p.id, "{participant_data.s}".repeat(fits));
    expect(ok.status).toBe(200);
    expect(new TextEncoder().encode(ok.json.prompt).byteLength).toBe(fits * one);
    const over = await render(apiKey, p.id, "{participant_data.s}".repeat(fits + 1));
    expect(expectProblem(over, 422).type).toBe("/problems/prompt-too-large");
    // Exactly at the limit: literal text makes up the rest.
    const exact = "{participant_data.s}".repeat(fits) + "a".repeat(PROMPT_MAX_BYTES - fits * one);
    expect((await render(apiKey, p.id, exact)).status).toBe(200);
    expect(expectProblem(await render(apiKey, p.id, `${exact}a`), 422).type).toBe("/problems/prompt-too-large");
  });

  it("counts {current_datetime} at its longest form", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, {
      timezone: "America/Argentina/ComodRivadavia",
      data: { s: "x".repeat(60_000) },
    });
    const response = await render(apiKey, p.id, "{current_datetime}");
    expect(response.status).toBe(200);
    expect(new TextEncoder().encode(response.json.prompt).byteLength).toBeLessThanOrEqual(96);
    const template = `${"{participant_data.s}".repeat(17)}${"{current_datetime}".repeat(1_000)}`;
    expect(expectProblem(await render(apiKey, p.id, template), 422).type).toBe("/problems/prompt-too-large");
  });

  it("bounds GET /v1/participants/:id/prompt-variables/participant_data the same way (a single copy fits)", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { blob: "x".repeat(64 * 1024 - 20) } });
    const response = await call("GET", `/v1/participants/${p.id}/prompt-variables/participant_data`, { token: apiKey });
    expect(response.status).toBe(200);
  });
});
