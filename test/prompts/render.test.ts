import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, expectProblem, sendMessage, startConversation } from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";
import { costOf } from "../support/cost";
import { createParticipant, getParticipant, teamWithChatbot } from "../support/participants";

const render = (apiKey: string, participantId: string, template: string) =>
  call("POST", "/v1/prompts/render", { token: apiKey, body: { participant_id: participantId, template } });

describe("POST /v1/prompts/render", () => {
  it("renders the design's variables for a participant", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, {
      name: "Ona",
      timezone: "Asia/Tokyo",
      data: { plan: "pro", tasks: [{ due: "2025-01-31" }] },
    });
    const response = await render(
      apiKey,
      p.id,
      "Data: {participant_data}\nDue: {participant_data.tasks[0].due}\nNow: {current_datetime}\n{{literal}} {unknown}",
    );
    expect(response.status).toBe(200);
    const [data, due, now, last] = response.json.prompt.split("\n");
    expect(JSON.parse(data.slice("Data: ".length))).toEqual({
      plan: "pro",
      tasks: [{ due: "2025-01-31" }],
      name: "Ona",
      timezone: "Asia/Tokyo",
    });
    expect(due).toBe("Due: 2025-01-31");
    expect(now).toMatch(/^Now: [A-Z][a-z]+day, \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+09:00 \(Asia\/Tokyo\)$/);
    expect(last).toBe("{literal} {unknown}");
    expect(response.headers.get("Cache-Control")).toBe("no-store");
  });

  it("serves from KV on a hit, and counts D1 rows and KV operations per render", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { a: 1 } });
    const miss = await render(apiKey, p.id, "{participant_data.a}");
    expect(miss.headers.get("Chat-Context-Cache")).toBe("miss");
    expect(costOf(miss)).toEqual({ d1RowsRead: 2, d1RowsWritten: 0, kvReads: 1, kvWrites: 1 });
    const hit = await render(apiKey, p.id, "{participant_data.a}");
    expect(hit.headers.get("Chat-Context-Cache")).toBe("hit");
    expect(costOf(hit)).toEqual({ d1RowsRead: 1, d1RowsWritten: 0, kvReads: 1, kvWrites: 0 });
    expect(hit.json).toEqual(miss.json);
    // Another template is another entry.
    expect((await render(apiKey, p.id, "{participant_data}")).headers.get("Chat-Context-Cache")).toBe("miss");
    // The entries are versioned by participant and data version.
    const keys = (await env.RENDERS.list({ prefix: `render:r1:${p.id}:1:` })).keys;
    expect(keys).toHaveLength(2);
  });

  it("is never stale: render, write, render again shows the new value at once (miss, then hit)", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { plan: "free", n: 0 } });
    const template = "plan={participant_data.plan} n={participant_data.n} name={participant_data.name}";
    expect((await render(apiKey, p.id, template)).json.prompt).toBe("plan=free n=0 name=");
    expect((await render(apiKey, p.id, template)).headers.get("Chat-Context-Cache")).toBe("hit");

    const writes: [string, string, unknown, string][] = [
      ["PATCH", `/v1/participants/${p.id}/data`, { plan: "pro" }, "plan=pro n=0 name="],
      ["POST", `/v1/participants/${p.id}/data/increment`, { key: "n" }, "plan=pro n=1 name="],
      ["PUT", `/v1/participants/${p.id}/data`, { plan: "team", n: 5 }, "plan=team n=5 name="],
      ["PATCH", `/v1/participants/${p.id}`, { name: "Ona" }, "plan=team n=5 name=Ona"],
      [
        "PUT",
        `/v1/participants/by-identifier/${chatbot.id}/api/${encodeURIComponent(String(p.identifier))}/data`,
        { plan: "hook" },
        "plan=hook n= name=Ona",
      ],
    ];
    for (const [method, path, body, expected] of writes) {
      expect((await call(method, path, { token: apiKey, body })).status).toBe(200);
      const after = await render(apiKey, p.id, template);
      expect(after.json.prompt).toBe(expected);
      expect(after.headers.get("Chat-Context-Cache")).toBe("miss");
      const again = await render(apiKey, p.id, template);
      expect(again.json.prompt).toBe(expected);
      expect(again.headers.get("Chat-Context-Cache")).toBe("hit");
    }
    // CSV import is a write too.
    const imported = await call("POST", `/v1/participants/import?chatbot_id=${chatbot.id}`, {
      token: apiKey,
      rawBody: `identifier,channel,data.plan\n${p.identifier},api,csv`,
      headers: { "Content-Type": "text/csv" },
    });
    expect(imported.json.updated).toBe(1);
    expect((await render(apiKey, p.id, template)).json.prompt).toBe("plan=csv n= name=Ona");
  });

  it("sees the widget's write-through of the customer name and timezone at once", async () => {
    const conversation = await startConversation({ timezone: "Europe/Paris", data: { name: "Before" } });
    const apiKey = conversation.team.apiKey;
    const template = "{participant_data}";
    const first = await render(apiKey, conversation.participant_id, template);
    expect(JSON.parse(first.json.prompt)).toEqual({ name: "Before", timezone: "Europe/Paris" });
    expect((await render(apiKey, conversation.participant_id, template)).headers.get("Chat-Context-Cache")).toBe("hit");
    const sent = await sendMessage(conversation.conversation_id, conversation.token, {
      text: "hi",
      data: { name: "After" },
      timezone: "America/Chicago",
    });
    expect(sent.status).toBe(201);
    const after = await render(apiKey, conversation.participant_id, template);
    expect(JSON.parse(after.json.prompt)).toEqual({ name: "After", timezone: "America/Chicago" });
    expect(after.headers.get("Chat-Context-Cache")).toBe("miss");
  });

  it("validates input", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id);
    expectProblem(await render(apiKey, "part_nope", "x"), 404);
    expect(
      expectProblem(await call("POST", "/v1/prompts/render", { token: apiKey, body: { participant_id: p.id } }), 400).errors[0].pointer,
    ).toBe("/template");
    expect(
      expectProblem(await call("POST", "/v1/prompts/render", { token: apiKey, body: { participant_id: p.id, template: 5 } }), 400).errors[0]
        .pointer,
    ).toBe("/template");
    expectProblem(
      await call("POST", "/v1/prompts/render", { token: apiKey, rawBody: "{", headers: { "Content-Type": "application/json" } }),
      400,
    );
  });
});

describe("GET /v1/participants/:id/prompt-variables/participant_data", () => {
  it("answers {name, value} with the JSON render, through the same cache", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { name: "Ona", data: { 'quote"key': "😀", n: [1, 2] } });
    const first = await call("GET", `/v1/participants/${p.id}/prompt-variables/participant_data`, { token: apiKey });
    expect(first.status).toBe(200);
    expect(first.json.name).toBe("participant_data");
    expect(JSON.parse(first.json.value)).toEqual({ 'quote"key': "😀", n: [1, 2], name: "Ona" });
    expect(first.headers.get("Chat-Context-Cache")).toBe("miss");
    const second = await call("GET", `/v1/participants/${p.id}/prompt-variables/participant_data`, { token: apiKey });
    expect(second.headers.get("Chat-Context-Cache")).toBe("hit");
    expect(costOf(second)).toMatchObject({ d1RowsRead: 1, kvReads: 1, kvWrites: 0 });
    await call("POST", `/v1/participants/${p.id}/data/append`, { token: apiKey, body: { key: "n", value: 3 } });
    const third = await call("GET", `/v1/participants/${p.id}/prompt-variables/participant_data`, { token: apiKey });
    expect(JSON.parse(third.json.value).n).toEqual([1, 2, 3]);
  });
});

// Another team's key renders none of a participant's data (the very 404 of a missing participant).
describeApiKeyAuth({
  setup: async () => {
    const { team, apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id, { data: { secret: "s3cr3t" } });
    return { team, ids: { participant: participant.id }, secrets: ["s3cr3t"] };
  },
  routes: [
    {
      method: "POST",
      path: () => "/v1/prompts/render",
      body: ({ participant }) => ({ participant_id: participant, template: "{participant_data}" }),
    },
    { method: "GET", path: ({ participant }) => `/v1/participants/${participant}/prompt-variables/participant_data` },
  ],
  unchanged: async ({ team, ids }) => {
    expect((await getParticipant(team.apiKey, ids.participant)).version).toBe(1);
  },
});
