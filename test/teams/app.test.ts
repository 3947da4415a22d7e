import { describe, expect, it } from "vitest";
import { slugForStatus } from "../../src/shared/problem";
import { call, createTeam, expectProblem } from "../support/api";

describe("the app's surface", () => {
  it("answers /healthz", async () => {
    const response = await call("GET", "/healthz");
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ ok: true });
  });

  const unknown: [string, string][] = [
    ["GET", "/"],
    ["GET", "/nope"],
    ["GET", "/v1"],
    ["GET", "/v2/chatbots"],
    ["GET", "/v1/widget/nothing-here"],
  ];
  for (const [method, path] of unknown) {
    it(`answers unknown route ${method} ${path} with a 404 problem`, async () => {
      const problem = expectProblem(await call(method, path), 404);
      expect(problem.type).toBe("/problems/not-found");
      expect(problem.title).toBe("Not found");
      expect(problem.detail).toContain(path);
    });
  }

  it("answers unknown routes under the API with a 404 problem once authenticated", async () => {
    const team = await createTeam();
    for (const path of ["/v1/conversations/conv_x/unknown", "/v1/chatbots/cb_01m7z7xv72qdt7bdq45fpddjbk/nothing"]) {
      const problem = expectProblem(await call("GET", path, { token: team.apiKey }), 404);
      expect(problem.type).toBe("/problems/not-found");
    }
  });

  // A known path asked with a method none of its routes serve.
  const wrongMethod: [string, string, string][] = [
    ["POST", "/healthz", "GET, HEAD"],
    ["GET", "/v1/admin/teams", "POST"],
    ["DELETE", "/v1/admin/teams", "POST"],
    ["PUT", "/v1/widget/conversations", "POST"],
  ];
  for (const [method, path, allow] of wrongMethod) {
    it(`answers ${method} ${path} with 405 and Allow: ${allow}`, async () => {
      const response = await call(method, path);
      const problem = expectProblem(response, 405);
      expect(problem.type).toBe("/problems/method-not-allowed");
      expect(problem.title).toBe("Method not allowed");
      expect(problem.detail).toContain(path);
      expect(response.headers.get("Allow")).toBe(allow);
    });
  }

  it("answers a wrong method on an API path with 405 once authenticated (401 before that)", async () => {
    const team = await createTeam();
    const path = "/v1/chatbots/cb_01m7z7xv72qdt7bdq45fpddjbk";
    expectProblem(await call("DELETE", path), 401);
    const response = await call("DELETE", path, { token: team.apiKey });
    expectProblem(response, 405);
    expect(response.headers.get("Allow")).toBe("GET, HEAD, PATCH");
    const collection = await call("POST", "/v1/conversations", { token: team.apiKey });
    expectProblem(collection, 405);
    expect(collection.headers.get("Allow")).toBe("GET, HEAD");
  });

  it("maps a bare HTTP status (Hono's HTTPException) to a catalogd slug", () => {
    expect(slugForStatus(413)).toBe("payload-too-large");
    expect(slugForStatus(405)).toBe("method-not-allowed");
    expect(slugForStatus(418)).toBe("bad-request");
    expect(slugForStatus(502)).toBe("internal-error");
  });
});
