import { describe, expect, it } from "vitest";
import { READ_ONLY_POSTS } from "../../src/api-keys/auth";
import { ADMIN_TOKEN, type ApiResponse, call, createTeam, expectProblem } from "./api";

/** The ids a route names, by kind: `{ chatbot: "cb_…", participant: "part_…" }`. */
export type Ids = Record<string, string>;

/** Well-formed ids that name nothing, by kind: what another team's ids must be indistinguishable from. */
export const MISSING_IDS: Readonly<Record<string, string>> = {
  chatbot: "cb_00000000000000000000000000",
  conversation: "conv_00000000000000000000000000",
  participant: "part_00000000000000000000000000",
  api_key: "0000000000000000",
  webhook: "wh_00000000000000000000000000",
  action: "act_00000000000000000000000000",
};

/** What a suite's `setup` makes: a fresh team and the resources of it the routes name. */
export type Owner<I extends Ids = Ids> = {
  team: { apiKey: string };
  /** Keys of MISSING_IDS are resource ids (swapped for missing ones); any other key is kept as it is. */
  ids: I;
  /** Text of the owner's that no refused answer may contain. */
  secrets?: string[];
  /** Credentials of the owner's that are no API key (a widget token), as whole Authorization values, each refused with 401. */
  otherCredentials?: Record<string, string>;
};

export type ApiKeyRoute<I extends Ids> = {
  method: string;
  path: (ids: I) => string;
  /** Sent as JSON: a request that would succeed with the owner's key, so that a refusal is seen to write nothing. */
  body?: (ids: I) => unknown;
  /** Sent as it is, for bodies that are not JSON (CSV). */
  rawBody?: (ids: I) => string;
  headers?: Record<string, string>;
  /**
   * The route names no resource of the team (a create, a list of the whole team): another team's key is
   * just another caller there, so the 404 check does not apply.
   */
  teamWide?: boolean;
  /**
   * What the route does, for the checks of a `read` key: refused with 403 on a write, served on a
   * read. Unless told, GET is a read and every other method a write, but for the POST routes that
   * src/api-keys/auth.ts lists as read-only: a write listed there by mistake is still caught, as the
   * read key's request then fails `unchanged`.
   */
  scope?: "read" | "write";
};

export type ApiKeySuite<O extends Owner> = {
  /** A fresh team with its resources, made anew for every test. */
  setup: () => Promise<O>;
  routes: ApiKeyRoute<O["ids"]>[];
  /** Asserts, after the refused requests, that they changed nothing the owner can see. */
  unchanged?: (owner: O) => Promise<void>;
  /** The name of the describe block; "API key authentication" unless told. */
  name?: string;
};

/** Names a route by its path with each id shown as `:kind`. */
const PLACEHOLDERS = new Proxy({}, { get: (_, kind) => `:${String(kind)}` }) as Ids;

/** Well-formed keys that no team holds. */
const UNKNOWN_KEYS = [`cck_${"0".repeat(16)}_${"A".repeat(43)}`, `cck_0123456789abcdef_${"A".repeat(43)}`];

/** Authorization values that carry no well-formed API key, most of them built around the owner's real one. */
function malformedCredentials(key: string): [string, string][] {
  return [
    ["an empty bearer", "Bearer"],
    ["cck_ with no id or secret", "Bearer cck_not-a-key"],
    ["cck_ with a short tail", "Bearer cck_malformed"],
    ["a word", "Bearer not-a-key"],
    ["an upper-case key id", `Bearer cck_ABCDEF0123456789_${"A".repeat(43)}`],
    ["the key one character short", `Bearer ${key.slice(0, -1)}`],
    ["the key one character long", `Bearer ${key}A`],
    ["the key ending outside base64url", `Bearer ${key.slice(0, -1)}+`],
    ["the key twice", `Bearer ${key} ${key}`],
    ["the key with no scheme", key],
    ["the key under Basic", `Basic ${btoa(`${key}:`)}`],
    ["the key under another scheme", `Token ${key}`],
    ["the admin token", `Bearer ${ADMIN_TOKEN}`],
  ];
}

/** The owner's key id with another secret of the right shape: what a revoked or guessed key looks like. */
function withWrongSecret(key: string): string {
  const match = /^(cck_[0-9a-f]{16}_)([A-Za-z0-9_-]{43})$/.exec(key);
  if (!match) throw new Error(`not an API key: ${key}`);
  const forged = match[1] + (match[2]!.startsWith("A") ? "B" : "A").repeat(43);
  expect(forged).not.toBe(key);
  return forged;
}

/** Whether a `read` key must be refused the route. */
function isWrite<I extends Ids>(route: ApiKeyRoute<I>, ids: I): boolean {
  if (route.scope) return route.scope === "write";
  if (route.method === "GET" || route.method === "HEAD") return false;
  return !(route.method === "POST" && READ_ONLY_POSTS.has(route.path(ids).split("?")[0]!));
}

/** A new key of the owner's team, made with the owner's key; `revoked` revokes it at once. */
async function keyOf(owner: Owner, scope: "read" | "write", revoked = false): Promise<string> {
  const created = await call("POST", "/v1/api-keys", { token: owner.team.apiKey, body: { name: `suite ${scope} key`, scope } });
  if (created.status !== 201) throw new Error(`api key: ${created.status} ${created.text}`);
  if (revoked) {
    const answer = await call("DELETE", `/v1/api-keys/${created.json.id}`, { token: owner.team.apiKey });
    if (answer.status !== 204) throw new Error(`revoke: ${answer.status} ${answer.text}`);
  }
  return created.json.key;
}

/** The ids with every resource id swapped for one that names nothing. */
function missingIds<I extends Ids>(ids: I): I {
  return Object.fromEntries(Object.entries(ids).map(([kind, id]) => [kind, MISSING_IDS[kind] ?? id])) as I;
}

/** What a request to the route says, for telling two apart. */
function request<I extends Ids>(route: ApiKeyRoute<I>, ids: I): string {
  return JSON.stringify([route.path(ids), route.body?.(ids), route.rawBody?.(ids)]);
}

function send<I extends Ids>(route: ApiKeyRoute<I>, ids: I, authorization: string | null): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...route.headers };
  if (authorization !== null) headers.Authorization = authorization;
  return call(route.method, route.path(ids), { headers, body: route.body?.(ids), rawBody: route.rawBody?.(ids) });
}

function expectHidden(response: ApiResponse, owner: Owner) {
  for (const secret of owner.secrets ?? []) expect(response.text).not.toContain(secret);
}

/** A 401 problem of type unauthorized, with a Bearer challenge, that tells nothing of the owner's. */
function expectRefused(response: ApiResponse, owner: Owner, what: string) {
  expect(response.status, what).toBe(401);
  const problem = expectProblem(response, 401);
  expect(problem.type, what).toBe("/problems/unauthorized");
  expect(response.headers.get("WWW-Authenticate"), what).toMatch(/^Bearer/);
  expectHidden(response, owner);
}

/**
 * The API-key checks every route of the API must pass, one describe per route: no credentials,
 * malformed ones, unknown keys, a known key id with a wrong secret and a revoked key answer 401
 * with a Bearer challenge; another team's valid key on the owner's ids answers the very 404 a
 * missing id gets; a `read` key of the owner's team is refused a write with 403 and served a read.
 * Each test makes its own team, sends the route a request that would succeed with the owner's key,
 * and asks `unchanged` afterwards.
 */
export function describeApiKeyAuth<O extends Owner>(suite: ApiKeySuite<O>): void {
  describe(suite.name ?? "API key authentication", () => {
    for (const route of suite.routes) {
      describe(`${route.method} ${route.path(PLACEHOLDERS as O["ids"])}`, () => {
        async function refuses(credentials: (owner: O) => [string, string | null][]) {
          const owner = await suite.setup();
          for (const [what, authorization] of credentials(owner)) {
            expectRefused(await send(route, owner.ids, authorization), owner, what);
          }
          await suite.unchanged?.(owner);
        }

        it("refuses a request without credentials with 401 and a Bearer challenge", () =>
          refuses(() => [["no Authorization header", null]]));

        it("refuses malformed credentials with 401", () =>
          refuses((owner) => [...malformedCredentials(owner.team.apiKey), ...Object.entries(owner.otherCredentials ?? {})]));

        it("refuses a well-formed key that does not exist with 401", () =>
          refuses(() => UNKNOWN_KEYS.map((key) => [key, `Bearer ${key}`])));

        it("refuses the team's key id with a wrong secret with 401", () =>
          refuses((owner) => [["a wrong secret", `Bearer ${withWrongSecret(owner.team.apiKey)}`]]));

        it("refuses a revoked key of the team with 401 at once, and changes nothing", async () => {
          const owner = await suite.setup();
          const revoked = await keyOf(owner, "write", true);
          expectRefused(await send(route, owner.ids, `Bearer ${revoked}`), owner, "a revoked key");
          await suite.unchanged?.(owner);
        });

        if (isWrite(route, PLACEHOLDERS as O["ids"])) {
          it("refuses a read key of the team with 403, and changes nothing", async () => {
            const owner = await suite.setup();
            const answer = await send(route, owner.ids, `Bearer ${await keyOf(owner, "read")}`);
            const problem = expectProblem(answer, 403);
            expect(problem.type).toBe("/problems/forbidden");
            expect(problem.detail).toMatch(/read-only/);
            expectHidden(answer, owner);
            await suite.unchanged?.(owner);
          });
        } else {
          it("serves a read key of the team, which changes nothing", async () => {
            const owner = await suite.setup();
            const answer = await send(route, owner.ids, `Bearer ${await keyOf(owner, "read")}`);
            expect(answer.status, answer.text).toBeGreaterThanOrEqual(200);
            expect(answer.status, answer.text).toBeLessThan(300);
            await suite.unchanged?.(owner);
          });
        }

        if (!route.teamWide) {
          it("answers another team's key with the 404 of a missing id, and changes nothing", async () => {
            const owner = await suite.setup();
            const intruder = await createTeam();
            const missing = missingIds(owner.ids);
            if (request(route, missing) === request(route, owner.ids)) {
              throw new Error(`${route.method} ${route.path(owner.ids)} names no id of MISSING_IDS: mark it teamWide`);
            }
            const theirs = await send(route, owner.ids, `Bearer ${intruder.apiKey}`);
            const problem = expectProblem(theirs, 404);
            expectHidden(theirs, owner);
            // Exactly what a missing id says: nothing tells that it exists.
            expect(problem).toEqual(expectProblem(await send(route, missing, `Bearer ${intruder.apiKey}`), 404));
            await suite.unchanged?.(owner);
          });
        }
      });
    }
  });
}
