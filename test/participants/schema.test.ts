import { describe, expect, it } from "vitest";
import { call, createTeam, expectProblem } from "../support/api";
import { createParticipant, getParticipant, listParticipants, teamWithChatbot } from "../support/participants";

const TASKS_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    age: { type: "integer", minimum: 0 },
    visits: { type: "integer", maximum: 3 },
    tags: { type: "array", items: { type: "string" }, maxItems: 3 },
    tasks: {
      type: "array",
      items: {
        type: "object",
        properties: { name: { type: "string" }, due_date: { type: "string", format: "date" } },
        required: ["name", "due_date"],
      },
    },
  },
};

describe("participant_data_schema on chatbots", () => {
  it("stores a valid draft 2020-12 schema at POST and PATCH, and null clears it", async () => {
    const team = await createTeam();
    const created = await call("POST", "/v1/chatbots", { token: team.apiKey, body: { name: "S", participant_data_schema: TASKS_SCHEMA } });
    expect(created.status).toBe(201);
    expect(created.json.participant_data_schema).toEqual(TASKS_SCHEMA);
    const got = await call("GET", `/v1/chatbots/${created.json.id}`, { token: team.apiKey });
    expect(got.json.participant_data_schema).toEqual(TASKS_SCHEMA);
    const renamed = await call("PATCH", `/v1/chatbots/${created.json.id}`, { token: team.apiKey, body: { name: "S2" } });
    expect(renamed.json.participant_data_schema).toEqual(TASKS_SCHEMA);
    const cleared = await call("PATCH", `/v1/chatbots/${created.json.id}`, { token: team.apiKey, body: { participant_data_schema: null } });
    expect(cleared.json.participant_data_schema).toBeNull();
    expect((await call("GET", `/v1/chatbots/${created.json.id}`, { token: team.apiKey })).json.participant_data_schema).toBeNull();
  });

  it("refuses invalid schemas with 400 naming where, and keeps the old one", async () => {
    const team = await createTeam();
    const chatbot = (await call("POST", "/v1/chatbots", { token: team.apiKey, body: { name: "S", participant_data_schema: TASKS_SCHEMA } }))
      .json;
    const cases: [unknown, string][] = [
      [{ type: "strng" }, "/participant_data_schema/type"],
      [{ properties: { age: { minimum: "zero" } } }, "/participant_data_schema/properties/age/minimum"],
      [{ properties: { code: { type: "string", pattern: "([a-z" } } }, "/participant_data_schema/properties/code/pattern"],
      [{ required: "age" }, "/participant_data_schema/required"],
      [{ $ref: "#/$defs/missing" }, "/participant_data_schema/$ref"],
      [{ $ref: "https://example.com/remote.json" }, "/participant_data_schema/$ref"],
      [{ $schema: "http://json-schema.org/draft-07/schema#" }, "/participant_data_schema/$schema"],
      [{ items: { $dynamicRef: "#meta" } }, "/participant_data_schema/items/$dynamicRef"],
      [[{ type: "object" }], "/participant_data_schema"],
      ["object", "/participant_data_schema"],
    ];
    for (const [schema, pointer] of cases) {
      const patched = await call("PATCH", `/v1/chatbots/${chatbot.id}`, { token: team.apiKey, body: { participant_data_schema: schema } });
      const problem = expectProblem(patched, 400);
      expect(
        problem.errors.map((e: any) => e.pointer),
        JSON.stringify(schema),
      ).toContain(pointer);
      const posted = await call("POST", "/v1/chatbots", { token: team.apiKey, body: { name: "T", participant_data_schema: schema } });
      expectProblem(posted, 400);
    }
    expect((await call("GET", `/v1/chatbots/${chatbot.id}`, { token: team.apiKey })).json.participant_data_schema).toEqual(TASKS_SCHEMA);
  });

  it("accepts local $ref and $defs", async () => {
    const team = await createTeam();
    const schema = {
      $defs: { task: { type: "object", required: ["name"] } },
      properties: { tasks: { type: "array", items: { $ref: "#/$defs/task" } } },
    };
    const created = await call("POST", "/v1/chatbots", { token: team.apiKey, body: { name: "R", participant_data_schema: schema } });
    expect(created.status).toBe(201);
    const p = await createParticipant(team.apiKey, created.json.id);
    const bad = await call("PUT", `/v1/participants/${p.id}/data`, {
      token: team.apiKey,
      body: { tasks: [{ name: "a" }, { title: "b" }] },
    });
    expect(expectProblem(bad, 422).errors.map((e: any) => e.pointer)).toEqual(["/tasks/1"]);
  });
});

describe("the schema applies to every write path", () => {
  it("answers 422 with the failing nested instance paths and writes nothing (API replace and merge)", async () => {
    const { apiKey, chatbot } = await teamWithChatbot(TASKS_SCHEMA);
    const p = await createParticipant(apiKey, chatbot.id, { data: { age: 30 } });
    const bad = await call("PUT", `/v1/participants/${p.id}/data`, {
      token: apiKey,
      body: { age: -1, tasks: [{ name: "ok", due_date: "2025-01-31" }, { name: "x", due_date: "tomorrow" }, { due_date: "2025-02-01" }] },
    });
    const problem = expectProblem(bad, 422);
    expect(problem.type).toBe("/problems/schema-violation");
    const pointers = problem.errors.map((e: any) => e.pointer).sort();
    expect(pointers).toEqual(["/age", "/tasks/1/due_date", "/tasks/2"]);
    expect(problem.errors.find((e: any) => e.pointer === "/tasks/1/due_date")).toMatchObject({
      code: "format",
      schema_pointer: "/properties/tasks/items/properties/due_date/format",
    });
    expect(problem.detail).toContain("/tasks/1/due_date");
    const merge = await call("PATCH", `/v1/participants/${p.id}/data`, { token: apiKey, body: { age: "thirty" } });
    expect(expectProblem(merge, 422).errors[0].pointer).toBe("/age");
    expect(await getParticipant(apiKey, p.id)).toMatchObject({ version: 1, data: { age: 30 } });
  });

  it("validates bot tools on every attempt: the 4th increment past maximum 3 is refused", async () => {
    const { apiKey, chatbot } = await teamWithChatbot(TASKS_SCHEMA);
    const p = await createParticipant(apiKey, chatbot.id);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => call("POST", `/v1/participants/${p.id}/data/increment`, { token: apiKey, body: { key: "visits" } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 422, 422, 422]);
    expect(results.find((r) => r.status === 422)!.json.errors[0].pointer).toBe("/visits");
    const append = await call("POST", `/v1/participants/${p.id}/data/append`, { token: apiKey, body: { key: "tags", value: 7 } });
    expect(expectProblem(append, 422).errors[0].pointer).toBe("/tags/0");
    expect(await getParticipant(apiKey, p.id)).toMatchObject({ version: 4, data: { visits: 3 } });
  });

  it("refuses an invalid create and an invalid webhook upsert without creating anyone", async () => {
    const { apiKey, chatbot } = await teamWithChatbot(TASKS_SCHEMA);
    const create = await call("POST", "/v1/participants", {
      token: apiKey,
      body: { chatbot_id: chatbot.id, channel: "api", identifier: "a", data: { age: 1.5 } },
    });
    expect(expectProblem(create, 422).errors[0].pointer).toBe("/age");
    const webhook = await call("PUT", `/v1/participants/by-identifier/${chatbot.id}/crm/b/data`, {
      token: apiKey,
      headers: { "Idempotency-Key": "bad-1" },
      body: { tags: ["a", "b", "c", "d"] },
    });
    expect(expectProblem(webhook, 422).errors[0].pointer).toBe("/tags");
    expect(await listParticipants(apiKey, chatbot.id)).toEqual([]);
    // A refused request records nothing under its key: the corrected retry applies.
    const retry = await call("PUT", `/v1/participants/by-identifier/${chatbot.id}/crm/b/data`, {
      token: apiKey,
      headers: { "Idempotency-Key": "bad-1" },
      body: { tags: ["a", "b", "c", "d"] },
    });
    expectProblem(retry, 422);
  });

  it("applies a schema set after data exists to the next write of the whole document", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { age: "old text", n: 0 } });
    const patched = await call("PATCH", `/v1/chatbots/${chatbot.id}`, { token: apiKey, body: { participant_data_schema: TASKS_SCHEMA } });
    expect(patched.status).toBe(200);
    // Existing data is kept as it is; reading it still works.
    expect((await getParticipant(apiKey, p.id)).data).toEqual({ age: "old text", n: 0 });
    // Any write must leave a valid document, so the stale key blocks an unrelated increment...
    const blocked = await call("POST", `/v1/participants/${p.id}/data/increment`, { token: apiKey, body: { key: "n" } });
    expect(expectProblem(blocked, 422).errors.map((e: any) => e.pointer)).toEqual(["/age"]);
    // ...until a write fixes it.
    const fixed = await call("PATCH", `/v1/participants/${p.id}/data`, { token: apiKey, body: { age: 41 } });
    expect(fixed.status).toBe(200);
    const inc = await call("POST", `/v1/participants/${p.id}/data/increment`, { token: apiKey, body: { key: "n" } });
    expect(inc.json.value).toBe(1);
  });
});
