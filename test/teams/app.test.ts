import { describe, expect, it } from "vitest";
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
    ["POST", "/healthz"],
    ["GET", "/v1/admin/teams"],
    ["DELETE", "/v1/admin/teams"],
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
    for (const [method, path] of [
      ["DELETE", "/v1/chatbots/cb_01m7z7xv72qdt7bdq45fpddjbk"],
      ["POST", "/v1/conversations"],
      ["GET", "/v1/conversations/conv_x/unknown"],
    ] as const) {
      expectProblem(await call(method, path, { token: team.apiKey }), 404);
    }
  });
});
