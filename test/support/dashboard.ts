import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { BASE } from "./api";

/** A dashboard page as a browser asks for it (with the session cookie, if any), redirects not followed. */
export async function page(path: string, cookie?: string) {
  const headers: Record<string, string> = cookie ? { Cookie: cookie } : {};
  const response = await exports.default.fetch(new Request(BASE + path, { headers, redirect: "manual" }));
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Signs in through the sign-in form and returns the session cookie (`name=value`). */
export async function signIn(apiKey: string, next = "/dashboard/conversations"): Promise<string> {
  const response = await exports.default.fetch(
    new Request(`${BASE}/dashboard/login`, {
      method: "POST",
      headers: { Origin: BASE, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ api_key: apiKey, next }).toString(),
      redirect: "manual",
    }),
  );
  expect(response.status).toBe(303);
  return response.headers.get("Set-Cookie")!.split(";")[0]!;
}
