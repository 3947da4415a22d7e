import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findChatbot, updateChatbot } from "../../src/chatbots/storage";
import { SCHEMA_MAX_DEPTH, SCHEMA_MAX_IN_PLACE_CHAIN } from "../../src/participants/limits";
import { type ApiResponse, call, createTeam, expectProblem } from "../support/api";
import { createParticipant, getParticipant, listParticipants, teamWithChatbot } from "../support/participants";

// Nesting far beyond the data limit (32): deep enough to overflow any recursive walker.
const arrays = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const objects = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
const DEEP: [string, string][] = [
  ["5,000 arrays", arrays(5_000)],
  ["100,000 arrays", arrays(100_000)],
  ["5,000 objects", objects(5_000)],
  ["40,000 objects", objects(40_000)],
];
const JSON_TYPE = { "Content-Type": "application/json" };

/** A refusal of hostile input: a 400 (shape) or 422 (limit) problem, never a 500. */
function expectRefused(response: ApiResponse, allowed = [400, 422]) {
  expect(allowed, `status ${response.status}: ${response.text.slice(0, 300)}`).toContain(response.status);
  return expectProblem(response, response.status);
}

async function timed<T>(action: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await action();
  return { result, ms: performance.now() - start };
}

describe("hostile input: participant data nested thousands of levels deep", () => {
  for (const [label, nested] of DEEP) {
    it(`refuses ${label} on every data write and writes nothing`, async () => {
      const { apiKey, chatbot } = await teamWithChatbot();
      const p = await createParticipant(apiKey, chatbot.id, { data: { n: 1, list: [] } });
      const body = `{"deep":${nested}}`;

      const put = expectRefused(await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, rawBody: body, headers: JSON_TYPE }));
      if (put.status === 422) expect(put.type).toBe("/problems/participant-data-too-large");
      expectRefused(
        await call("PATCH", `/v1/participants/${p.id}/data`, {
          token: apiKey,
          rawBody: body,
          headers: { "Content-Type": "application/merge-patch+json" },
        }),
      );
      expectRefused(
        await call("POST", `/v1/participants/${p.id}/data/append`, {
          token: apiKey,
          rawBody: `{"key":"list","value":${nested}}`,
          headers: JSON_TYPE,
        }),
      );
      // With an Idempotency-Key the refusal is not recorded as a success either.
      expectRefused(
        await call("PUT", `/v1/participants/${p.id}/data`, {
          token: apiKey,
          rawBody: body,
          headers: { ...JSON_TYPE, "Idempotency-Key": `deep-${Math.random()}` },
        }),
      );
      expect(await getParticipant(apiKey, p.id)).toMatchObject({ version: 1, data: { n: 1, list: [] } });

      expectRefused(
        await call("PUT", `/v1/participants/by-identifier/${chatbot.id}/api/hostile/data`, {
          token: apiKey,
          rawBody: body,
          headers: JSON_TYPE,
        }),
      );
      expectRefused(
        await call("POST", "/v1/participants", {
          token: apiKey,
          rawBody: `{"chatbot_id":"${chatbot.id}","channel":"api","identifier":"created","data":${body}}`,
          headers: JSON_TYPE,
        }),
      );
      expect((await listParticipants(apiKey, chatbot.id)).map((x) => x.id)).toEqual([p.id]);
    });
  }

  it("refuses a deeply nested increment body (16 KiB route) with 400", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { n: 1 } });
    for (const rawBody of [`{"key":"n","by":${arrays(5_000)}}`, `{"key":"n","by":1,"x":${arrays(5_000)}}`, `{"key":${objects(2_000)}}`]) {
      expectRefused(await call("POST", `/v1/participants/${p.id}/data/increment`, { token: apiKey, rawBody, headers: JSON_TYPE }), [400]);
    }
    expect(await getParticipant(apiKey, p.id)).toMatchObject({ version: 1, data: { n: 1 } });
  });

  it("refuses a very wide array with 422 (too large), not a crash", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { n: 1 } });
    const wide = `{"wide":[${new Array(120_000).fill(0).join(",")}]}`;
    const put = expectRefused(
      await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, rawBody: wide, headers: JSON_TYPE }),
      [422],
    );
    expect(put.type).toBe("/problems/participant-data-too-large");
    expect(await getParticipant(apiKey, p.id)).toMatchObject({ version: 1 });
  });

  it("still takes data exactly 32 levels deep and refuses 33 with participant-data-too-large", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id);
    const ok = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, rawBody: objects(32), headers: JSON_TYPE });
    expect(ok.status).toBe(200);
    const tooDeep = expectRefused(
      await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, rawBody: objects(33), headers: JSON_TYPE }),
      [422],
    );
    expect(tooDeep).toMatchObject({ type: "/problems/participant-data-too-large", limit_depth: 32 });
  });

  it("reports a deeply nested or huge CSV cell as a row error and imports nothing from it", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    // The 4 MiB import body also fits an array of 1.5 million items, too many to spread into arguments.
    for (const nested of [arrays(100_000), objects(40_000), `[${new Array(1_500_000).fill(0).join(",")}]`]) {
      const csv = `identifier,channel,data.deep\r\nhostile,api,"${nested.replaceAll('"', '""')}"\r\nfine,api,1\r\n`;
      const response = await call("POST", `/v1/participants/import?chatbot_id=${chatbot.id}`, {
        token: apiKey,
        rawBody: csv,
        headers: { "Content-Type": "text/csv" },
      });
      expect(response.status, response.text.slice(0, 300)).toBe(200);
      expect(response.json.errors).toHaveLength(1);
      expect(response.json.errors[0]).toMatchObject({ row: 2 });
    }
    expect((await listParticipants(apiKey, chatbot.id)).map((x) => x.identifier)).toEqual(["fine"]);
  });
});

describe("hostile input: participant_data_schema nested thousands of levels deep", () => {
  const DEEP_SCHEMAS: [string, string][] = [
    ["an unknown keyword holding 30,000 arrays", `{"x":${arrays(30_000)}}`],
    ["an unknown keyword holding 10,000 objects", `{"x":${objects(10_000)}}`],
    ["5,000 nested not", `${'{"not":'.repeat(5_000)}{}${"}".repeat(5_000)}`],
    ["3,000 nested properties", `${'{"properties":{"a":'.repeat(3_000)}{}${"}}".repeat(3_000)}`],
    ["a const of 30,000 arrays", `{"const":${arrays(30_000)}}`],
  ];
  for (const [label, schema] of DEEP_SCHEMAS) {
    it(`refuses ${label} with 400 at POST and PATCH, keeping the old schema`, async () => {
      const { apiKey } = await createTeam().then((team) => ({ apiKey: team.apiKey }));
      const created = expectRefused(
        await call("POST", "/v1/chatbots", {
          token: apiKey,
          rawBody: `{"name":"deep","participant_data_schema":${schema}}`,
          headers: JSON_TYPE,
        }),
        [400],
      );
      expect(created.errors[0].pointer).toMatch(/^\/participant_data_schema/);
      const chatbot = await call("POST", "/v1/chatbots", {
        token: apiKey,
        body: { name: "ok", participant_data_schema: { type: "object" } },
      });
      expect(chatbot.status).toBe(201);
      expectRefused(
        await call("PATCH", `/v1/chatbots/${chatbot.json.id}`, {
          token: apiKey,
          rawBody: `{"participant_data_schema":${schema}}`,
          headers: JSON_TYPE,
        }),
        [400],
      );
      expect((await call("GET", `/v1/chatbots/${chatbot.json.id}`, { token: apiKey })).json.participant_data_schema).toEqual({
        type: "object",
      });
    });
  }

  it(`accepts a schema nesting exactly ${SCHEMA_MAX_DEPTH} levels as JSON and refuses one more`, async () => {
    const team = await createTeam();
    const wraps = (SCHEMA_MAX_DEPTH - 2) / 2;
    const schema = (innermost: string) => `${'{"properties":{"a":'.repeat(wraps)}${innermost}${"}}".repeat(wraps)}`;
    const save = (text: string) =>
      call("POST", "/v1/chatbots", {
        token: team.apiKey,
        rawBody: `{"name":"deep","participant_data_schema":${text}}`,
        headers: JSON_TYPE,
      });
    expect((await save(schema('{"const":[]}'))).status).toBe(201);
    const refused = expectRefused(await save(schema('{"const":[[]]}')), [400]);
    expect(refused.detail).toMatch(new RegExp(`at most ${SCHEMA_MAX_DEPTH} levels`));
  });

  it("still accepts a schema nested as deep as 32 levels of data needs", async () => {
    let schema: Record<string, unknown> = { type: "integer" };
    for (let i = 0; i < 32; i++) schema = { type: "object", properties: { a: schema }, additionalProperties: false };
    const { apiKey, chatbot } = await teamWithChatbot(schema);
    const p = await createParticipant(apiKey, chatbot.id);
    const put = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, rawBody: objects(32), headers: JSON_TYPE });
    expect(put.status, put.text).toBe(200);
    const bad = await call("PUT", `/v1/participants/${p.id}/data`, {
      token: apiKey,
      rawBody: objects(32).replace("1", '"x"'),
      headers: JSON_TYPE,
    });
    expect(expectProblem(bad, 422).errors[0].pointer).toBe(`${"/a".repeat(32)}`);
  });
});

describe("hostile input: $ref cycles in participant_data_schema", () => {
  const CYCLES: [string, Record<string, unknown>, string][] = [
    ["$ref to the root", { $ref: "#" }, "/$ref"],
    ["a $ref loop through $defs", { $defs: { a: { $ref: "#/$defs/b" }, b: { $ref: "#/$defs/a" } }, $ref: "#/$defs/a" }, "/$defs/b/$ref"],
    [
      "a loop through allOf",
      { $defs: { a: { allOf: [{ type: "object" }, { $ref: "#/$defs/a" }] } }, properties: { x: { $ref: "#/$defs/a" } } },
      "/$defs/a/allOf/1/$ref",
    ],
    ["a loop through anyOf, not and if", { anyOf: [{ not: { if: { $ref: "#" } } }] }, "/anyOf/0/not/if/$ref"],
    [
      "a loop through an $anchor",
      { $defs: { a: { $anchor: "here", oneOf: [{ $ref: "#here" }] } }, $ref: "#here" },
      "/$defs/a/oneOf/0/$ref",
    ],
    ["a loop through dependentSchemas", { dependentSchemas: { k: { $ref: "#" } } }, "/dependentSchemas/k/$ref"],
  ];
  for (const [label, schema, pointer] of CYCLES) {
    it(`refuses ${label} with 400 when saved, naming the closing $ref`, async () => {
      const team = await createTeam();
      const created = expectRefused(
        await call("POST", "/v1/chatbots", { token: team.apiKey, body: { name: "loop", participant_data_schema: schema } }),
        [400],
      );
      expect(created.errors.map((error: { pointer: string }) => error.pointer)).toEqual([`/participant_data_schema${pointer}`]);
      expect(created.detail).toMatch(/closes a cycle/);
      const ok = await call("POST", "/v1/chatbots", { token: team.apiKey, body: { name: "ok" } });
      expectRefused(
        await call("PATCH", `/v1/chatbots/${ok.json.id}`, { token: team.apiKey, body: { participant_data_schema: schema } }),
        [400],
      );
      expect((await call("GET", `/v1/chatbots/${ok.json.id}`, { token: team.apiKey })).json.participant_data_schema).toBeNull();
    });
  }

  it("still accepts recursion that consumes input (a tree) and validates with it", async () => {
    const tree = {
      $defs: {
        node: {
          type: "object",
          properties: { label: { type: "string" }, children: { type: "array", items: { $ref: "#/$defs/node" } } },
          required: ["label"],
        },
      },
      type: "object",
      properties: { root: { $ref: "#/$defs/node" } },
      propertyNames: { $ref: "#/$defs/key" },
    };
    const withKey = { ...tree, $defs: { ...tree.$defs, key: { type: "string", propertyNames: { $ref: "#/$defs/key" } } } };
    const { apiKey, chatbot } = await teamWithChatbot(withKey);
    const p = await createParticipant(apiKey, chatbot.id);
    const good = { root: { label: "a", children: [{ label: "b", children: [{ label: "c" }] }] } };
    expect((await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: good })).status).toBe(200);
    const bad = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { root: { label: "a", children: [{}] } } });
    expect(expectProblem(bad, 422).type).toBe("/problems/schema-violation");
  });

  /** `length` subschemas applied in place, one after another, then a step into property `a`, which starts over. */
  function chainSchema(length: number) {
    const $defs: Record<string, unknown> = {};
    for (let i = 0; i < length - 2; i++) $defs[`c${i}`] = { $ref: `#/$defs/c${i + 1}` };
    $defs[`c${length - 2}`] = { type: ["object", "integer"], properties: { a: { $ref: "#/$defs/c0" } } };
    return { $defs, $ref: "#/$defs/c0" };
  }

  it("accepts in-place chains up to the limit and validates 32-deep data through them without overflowing", async () => {
    const { apiKey, chatbot } = await teamWithChatbot(chainSchema(SCHEMA_MAX_IN_PLACE_CHAIN));
    const p = await createParticipant(apiKey, chatbot.id);
    const put = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, rawBody: objects(32), headers: JSON_TYPE });
    expect(put.status, put.text).toBe(200);
    const bad = await call("PUT", `/v1/participants/${p.id}/data`, {
      token: apiKey,
      rawBody: objects(32).replace("1", '"x"'),
      headers: JSON_TYPE,
    });
    expect(expectProblem(bad, 422).type).toBe("/problems/schema-violation");
  });

  it("refuses a longer in-place chain with 400", async () => {
    const team = await createTeam();
    const refused = expectRefused(
      await call("POST", "/v1/chatbots", {
        token: team.apiKey,
        body: { name: "chain", participant_data_schema: chainSchema(SCHEMA_MAX_IN_PLACE_CHAIN + 1) },
      }),
      [400],
    );
    expect(refused.detail).toMatch(new RegExp(`chain of more than ${SCHEMA_MAX_IN_PLACE_CHAIN}`));
  });

  it("answers 422, never 500, for a stored schema that cannot be evaluated (saved before these checks)", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { n: 1 } });
    const stored = (await findChatbot(env.DB, chatbot.id))!;
    for (const schema of [
      { $ref: "#" },
      { $defs: { a: { $ref: "#/$defs/b" }, b: { $ref: "#/$defs/a" } }, $ref: "#/$defs/a" },
      { properties: { n: { type: "string", pattern: "(a)\\1" } } },
    ]) {
      await updateChatbot(env.DB, { ...stored, participant_data_schema: schema });
      const writes = [
        await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { n: "x" } }),
        await call("PATCH", `/v1/participants/${p.id}/data`, { token: apiKey, body: { n: "x" } }),
        await call("POST", `/v1/participants/${p.id}/data/increment`, { token: apiKey, body: { key: "n" } }),
        await call("PUT", `/v1/participants/by-identifier/${chatbot.id}/api/stored-loop/data`, { token: apiKey, body: { n: "x" } }),
        await call("POST", "/v1/participants", {
          token: apiKey,
          body: { chatbot_id: chatbot.id, channel: "api", identifier: "stored-loop-2", data: { n: "x" } },
        }),
      ];
      for (const response of writes) expect(expectRefused(response, [422]).type).toBe("/problems/schema-violation");
      const imported = await call("POST", `/v1/participants/import?chatbot_id=${chatbot.id}`, {
        token: apiKey,
        rawBody: "identifier,channel,data.n\r\ncsv-loop,api,2\r\n",
        headers: { "Content-Type": "text/csv" },
      });
      expect(imported.status).toBe(200);
      expect(imported.json).toMatchObject({ created: 0, updated: 0 });
      expect(imported.json.errors).toHaveLength(1);
    }
    expect(await getParticipant(apiKey, p.id)).toMatchObject({ version: 1, data: { n: 1 } });
    expect((await listParticipants(apiKey, chatbot.id)).map((x) => x.id)).toEqual([p.id]);
  });
});

describe("hostile input: regular expressions in participant_data_schema run in linear time", () => {
  const EVIL = "^(a+)+$";
  const attack = `${"a".repeat(5_000)}!`;

  it("evaluates an exponential-backtracking pattern against 5,000 characters at once", async () => {
    const { apiKey, chatbot } = await teamWithChatbot({ type: "object", properties: { code: { type: "string", pattern: EVIL } } });
    const p = await createParticipant(apiKey, chatbot.id);
    const { result, ms } = await timed(() =>
      call("PUT", `/v1/participants/by-identifier/${chatbot.id}/api/redos/data`, { token: apiKey, body: { code: attack } }),
    );
    expect(ms).toBeLessThan(1_000);
    expect(expectProblem(result, 422).errors).toEqual([
      expect.objectContaining({ pointer: "/code", code: "pattern", schema_pointer: "/properties/code/pattern" }),
    ]);
    expect((await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { code: "a".repeat(5_000) } })).status).toBe(200);
  });

  it("evaluates patternProperties keys and propertyNames patterns in linear time too", async () => {
    const { apiKey, chatbot } = await teamWithChatbot({
      type: "object",
      patternProperties: { [EVIL]: { type: "integer" } },
      properties: { names: { type: "object", propertyNames: { pattern: EVIL } } },
    });
    const p = await createParticipant(apiKey, chatbot.id);
    const keyed = await timed(() => call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { [attack]: "not checked" } }));
    expect(keyed.ms).toBeLessThan(1_000);
    expect(keyed.result.status).toBe(200);
    const matched = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { aaa: "not an integer" } });
    expect(expectProblem(matched, 422).errors[0]).toMatchObject({ pointer: "/aaa", code: "type" });
    const named = await timed(() => call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { names: { [attack]: 1 } } }));
    expect(named.ms).toBeLessThan(1_000);
    expect(expectProblem(named.result, 422).errors[0]).toMatchObject({ code: "pattern" });
  });

  it("still validates ordinary ECMAScript patterns (anchors, classes, \\d, \\u escapes, Unicode properties)", async () => {
    const { apiKey, chatbot } = await teamWithChatbot({
      type: "object",
      properties: {
        sku: { type: "string", pattern: "^[A-Z]{2}\\d{3}$" },
        letters: { type: "string", pattern: "^\\p{L}+$" },
        escaped: { type: "string", pattern: "^\\u0041+\\/$" },
        anywhere: { type: "string", pattern: "b+" },
        regex: { type: "string", format: "regex" },
      },
    });
    const p = await createParticipant(apiKey, chatbot.id);
    const ok = await call("PUT", `/v1/participants/${p.id}/data`, {
      token: apiKey,
      body: { sku: "AB123", letters: "Žemaitė日本", escaped: "AAA/", anywhere: "abba", regex: "^a+(?:b|c)$" },
    });
    expect(ok.status, ok.text).toBe(200);
    for (const [key, value] of [
      ["sku", "ab123"],
      ["sku", "AB1234"],
      ["letters", "abc1"],
      ["escaped", "aaa/"],
      ["anywhere", "aaa"],
      ["regex", "(a)\\1"],
    ]) {
      const bad = await call("PATCH", `/v1/participants/${p.id}/data`, { token: apiKey, body: { [key!]: value } });
      expect(expectProblem(bad, 422).errors[0], `${key}=${value}`).toMatchObject({ pointer: `/${key}` });
    }
  });

  const UNSUPPORTED: [string, Record<string, unknown>, string][] = [
    ["a backreference in pattern", { properties: { x: { pattern: "^(a)\\1$" } } }, "/participant_data_schema/properties/x/pattern"],
    [
      "a lookahead in a patternProperties key",
      { patternProperties: { "^(?=a)": {} } },
      "/participant_data_schema/patternProperties/^(?=a)",
    ],
    ["a lookbehind in propertyNames", { propertyNames: { pattern: "(?<!x)y" } }, "/participant_data_schema/propertyNames/pattern"],
    ["a backreference under $defs", { $defs: { a: { items: { pattern: "(x)\\1" } } } }, "/participant_data_schema/$defs/a/items/pattern"],
  ];
  for (const [label, schema, pointer] of UNSUPPORTED) {
    it(`refuses ${label} with 400 naming ${pointer}`, async () => {
      const team = await createTeam();
      const refused = expectRefused(
        await call("POST", "/v1/chatbots", { token: team.apiKey, body: { name: "re", participant_data_schema: schema } }),
        [400],
      );
      expect(refused.errors.map((error: { pointer: string }) => error.pointer)).toContain(pointer);
      expect(refused.detail).toMatch(/RE2|linear/);
    });
  }

  it("refuses patterns whose RE2 program is too large (linear time times the program size), alone or in all", async () => {
    const team = await createTeam();
    const save = (schema: Record<string, unknown>) =>
      call("POST", "/v1/chatbots", { token: team.apiKey, body: { name: "re", participant_data_schema: schema } });
    // `.{1,1000}` is 2,003 instructions: fine.
    const { apiKey, chatbot } = await teamWithChatbot({ properties: { s: { pattern: "^.{1,1000}$" } } });
    const p = await createParticipant(apiKey, chatbot.id);
    expect((await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { s: "x".repeat(1000) } })).status).toBe(200);
    expect((await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { s: "x".repeat(1001) } })).status).toBe(422);
    const big = expectRefused(await save({ properties: { s: { pattern: ".{1000}.{1000}.{1000}" } } }), [400]);
    expect(big.errors[0].pointer).toBe("/participant_data_schema/properties/s/pattern");
    expect(big.detail).toMatch(/RE2 instructions/);
    const many = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`s${i}`, { pattern: `^.{1,${999 - i}}$` }]));
    expect(expectRefused(await save({ properties: many }), [400]).detail).toMatch(/in all/);
  });

  it("keeps a pattern inside const or enum as data, not as a pattern to compile", async () => {
    const { apiKey, chatbot } = await teamWithChatbot({ properties: { x: { const: { pattern: "(a)\\1" } } } });
    const p = await createParticipant(apiKey, chatbot.id);
    expect((await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { x: { pattern: "(a)\\1" } } })).status).toBe(200);
  });
});
