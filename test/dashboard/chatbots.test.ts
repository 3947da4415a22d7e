import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE, call, createChatbot, createTeam } from "../support/api";

/** A signed-in browser's GET of a dashboard page (no Origin: a navigation). */
async function page(path: string, cookie?: string) {
  const headers: Record<string, string> = cookie ? { Cookie: cookie } : {};
  const response = await exports.default.fetch(new Request(BASE + path, { headers, redirect: "manual" }));
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function signIn(apiKey: string): Promise<string> {
  const response = await exports.default.fetch(
    new Request(`${BASE}/dashboard/login`, {
      method: "POST",
      headers: { Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ api_key: apiKey, next: "/dashboard/chatbots" }).toString(),
      redirect: "manual",
    }),
  );
  expect(response.status).toBe(303);
  return response.headers.get("Set-Cookie")!.split(";")[0]!;
}

async function readKeyOf(apiKey: string): Promise<string> {
  const read = await call("POST", "/v1/api-keys", { token: apiKey, body: { name: "viewer", scope: "read" } });
  expect(read.status).toBe(201);
  return read.json.key;
}

const HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "\u202Eevil"];

describe("dashboard chatbots list", () => {
  it("lists the team's chatbots only, each linked to its settings, with the create form", async () => {
    const team = await createTeam();
    const mine = await createChatbot(team.apiKey, { name: "Shop bot", allowed_origins: ["https://shop.example.com"] });
    const other = await createTeam();
    const theirs = await createChatbot(other.apiKey, { name: "Their secret bot" });
    const cookie = await signIn(team.apiKey);
    const list = await page("/dashboard/chatbots", cookie);
    expect(list.status).toBe(200);
    expect(list.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    expect(list.text).toContain(`href="/dashboard/chatbots/${mine.id}"`);
    expect(list.text).toContain("Shop bot");
    expect(list.text).not.toContain(theirs.id);
    expect(list.text).not.toContain("Their secret bot");
    expect(list.text).toContain('aria-current="page">Chatbots');
    expect(list.text).toContain('<section aria-labelledby="create-heading" id="create"><h2 id="create-heading">Create chatbot</h2>');
    expect(list.text).toContain('<label for="new-chatbot-name">Name</label>');
  });

  it("says so when there are none yet", async () => {
    const team = await createTeam();
    const list = await page("/dashboard/chatbots", await signIn(team.apiKey));
    expect(list.status).toBe(200);
    expect(list.text).toContain("No chatbots yet.");
  });

  it("sends a visitor without a session to sign in", async () => {
    const list = await page("/dashboard/chatbots");
    expect(list.status).toBe(303);
    expect(list.headers.get("Location")).toBe("/dashboard/login?next=%2Fdashboard%2Fchatbots");
  });

  it("offers a read key's session no create form", async () => {
    const team = await createTeam();
    await createChatbot(team.apiKey, { name: "Shop bot" });
    const list = await page("/dashboard/chatbots", await signIn(await readKeyOf(team.apiKey)));
    expect(list.status).toBe(200);
    expect(list.text).toContain("Shop bot");
    expect(list.text).not.toContain("data-chatbot-create");
    expect(list.text).not.toContain("Create chatbot</button>");
  });
});

describe("dashboard chatbot settings", () => {
  it("shows the name, origins, schema, identity settings and the widget snippet, sections in order", async () => {
    const team = await createTeam();
    const schema = { type: "object", properties: { plan: { enum: ["free", "pro"] } } };
    const bot = await createChatbot(team.apiKey, {
      name: "Shop bot",
      allowed_origins: ["https://shop.example.com", "http://localhost:3000"],
      participant_data_schema: schema,
    });
    const cookie = await signIn(team.apiKey);
    const settings = await page(`/dashboard/chatbots/${bot.id}`, cookie);
    expect(settings.status).toBe(200);
    expect(settings.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    expect(settings.text).toContain('value="Shop bot"');
    expect(settings.text).toMatch(/<textarea id="allowed-origins"[^>]*>https:\/\/shop\.example\.com\nhttp:\/\/localhost:3000<\/textarea>/);
    expect(settings.text).toContain(JSON.stringify(schema, null, 2).replaceAll('"', "&quot;"));
    expect(settings.text).toContain(
      `&lt;script src=&quot;${BASE}/widget.js&quot; data-chatbot-id=&quot;${bot.id}&quot; async&gt;&lt;/script&gt;`,
    );
    expect(settings.text).toContain(`href="/playground/${bot.id}"`);
    expect(settings.text).toMatch(/<input type="radio" id="identity-off" name="identity_verification" value="off" checked=""/);
    expect(settings.text).toContain("<legend>Identity verification</legend>");
    expect(settings.text).toContain("No identity secret is set yet.");
    expect(settings.text).toContain("Create identity secret</button>");
    // Every section is a landmark named by its heading, in a fixed order.
    const sections = [...settings.text.matchAll(/<section aria-labelledby="([a-z-]+)-heading"/g)].map((match) => match[1]);
    expect(sections).toEqual(["general", "widget", "schema", "replies", "identity"]);
    expect(settings.text).toMatch(/<input type="checkbox" id="stand-in-replies" name="stand_in_replies" checked=""/);
  });

  it("says a secret is set once one is, and never shows it", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const rotated = await call("POST", `/v1/chatbots/${bot.id}/identity-secret`, { token: team.apiKey });
    expect(rotated.status).toBe(201);
    await call("PATCH", `/v1/chatbots/${bot.id}`, {
      token: team.apiKey,
      body: { identity_verification: "required", stand_in_replies: false },
    });
    const settings = await page(`/dashboard/chatbots/${bot.id}`, await signIn(team.apiKey));
    expect(settings.text).toContain("An identity secret is set.");
    expect(settings.text).toContain("Rotate identity secret</button>");
    expect(settings.text).not.toContain(rotated.json.secret);
    expect(settings.text).toMatch(/id="identity-required" name="identity_verification" value="required" checked=""/);
    expect(settings.text).toMatch(/<input type="checkbox" id="stand-in-replies" name="stand_in_replies" data-pointer/);
  });

  it("answers the same 404 page for another team's chatbot, a missing id and junk", async () => {
    const team = await createTeam();
    const other = await createTeam();
    const theirs = await createChatbot(other.apiKey, { name: "Their secret bot" });
    const cookie = await signIn(team.apiKey);
    const bodies = [];
    for (const id of [theirs.id, "cb_00000000000000000000000000", "not-an-id", "%3Cscript%3E"]) {
      const response = await page(`/dashboard/chatbots/${id}`, cookie);
      expect(response.status).toBe(404);
      expect(response.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
      expect(response.text).toContain("Chatbot not found");
      expect(response.text).not.toContain("Their secret bot");
      bodies.push(response.text);
    }
    expect(new Set(bodies).size).toBe(1);
  });

  it("renders hostile names, origins and schema values as text", async () => {
    const team = await createTeam();
    const long = "x".repeat(50_000);
    const bot = await createChatbot(team.apiKey, {
      name: HOSTILE.join(" "),
      participant_data_schema: { type: "object", description: `</textarea><script>alert(1)</script>${HOSTILE.join("")}`, title: long },
    });
    const cookie = await signIn(team.apiKey);
    for (const path of ["/dashboard/chatbots", `/dashboard/chatbots/${bot.id}`]) {
      const response = await page(path, cookie);
      expect(response.status).toBe(200);
      expect(response.text).not.toContain("<script>alert(1)");
      expect(response.text).not.toContain("<img src=x");
      expect(response.text).not.toContain("</textarea><script>");
      expect(response.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
      // The person's value is isolated for bidi wherever it is shown as text.
      expect(response.text).toMatch(
        /<bdi dir="auto">&lt;script&gt;alert\(1\)&lt;\/script&gt; &quot;&gt;&lt;img src=x onerror=alert\(1\)&gt; \u202Eevil<\/bdi>/,
      );
    }
    const settings = await page(`/dashboard/chatbots/${bot.id}`, cookie);
    expect(settings.text).toContain(long);
    // The whole page stays a page: the 50,000-character value is its bulk, once.
    expect(settings.text.length).toBeLessThan(long.length + 20_000);
  });

  it("shows a read key's session the settings without controls that change them", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, {
      name: "Shop bot",
      allowed_origins: ["https://shop.example.com"],
      participant_data_schema: { type: "object" },
    });
    const settings = await page(`/dashboard/chatbots/${bot.id}`, await signIn(await readKeyOf(team.apiKey)));
    expect(settings.status).toBe(200);
    expect(settings.text).toContain("https://shop.example.com");
    expect(settings.text).toMatch(/<input id="chatbot-name"[^>]* readonly=""/);
    expect(settings.text).toMatch(/<textarea id="allowed-origins"[^>]* readonly=""/);
    expect(settings.text).toMatch(/<textarea id="participant-data-schema"[^>]* readonly=""/);
    expect(settings.text).toMatch(/id="identity-off"[^>]* disabled=""/);
    expect(settings.text).toMatch(/id="identity-required"[^>]* disabled=""/);
    expect(settings.text).toMatch(/id="stand-in-replies"[^>]* disabled=""/);
    expect(settings.text).not.toMatch(/<button type="submit"[^>]*>\s*Save/);
    expect(settings.text).not.toContain("Save name and origins");
    expect(settings.text).not.toContain("data-rotate-secret");
    expect(settings.text).toContain("Copy snippet");
  });
});

describe("what the settings page's scripts rely on", () => {
  it("a session's PATCH of a bad schema answers pointers under /participant_data_schema; a bad origin its index", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const cookie = await signIn(team.apiKey);
    const patch = (body: unknown) =>
      exports.default.fetch(
        new Request(`${BASE}/v1/chatbots/${bot.id}`, {
          method: "PATCH",
          headers: { Cookie: cookie, Origin: BASE, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        }),
      );
    const schema = await patch({ participant_data_schema: { type: "objekt", properties: { age: { minimum: "ten" } } } });
    expect(schema.status).toBe(400);
    const problem = (await schema.json()) as { errors: { pointer: string; message: string }[] };
    expect(problem.errors.length).toBeGreaterThan(0);
    for (const error of problem.errors) expect(error.pointer.startsWith("/participant_data_schema/")).toBe(true);
    const origins = await patch({ allowed_origins: ["https://ok.example", "https://bad.example/path"] });
    expect(origins.status).toBe(400);
    expect(((await origins.json()) as { errors: { pointer: string }[] }).errors.map((error) => error.pointer)).toEqual([
      "/allowed_origins/1",
    ]);
  });
});
