import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findChatbot } from "../../src/chatbots/storage";
import { readImportFile } from "../../src/participants/csv-format";
import { importParticipants } from "../../src/participants/csv-import";
import { newCost } from "../../src/shared/cost";
import type { DomainEvent } from "../../src/webhooks/events";
import { createParticipant, getParticipant, teamWithChatbot } from "../support/participants";

/**
 * The real D1, with one write of "someone else" slipped in just before the import's first
 * batch: the moment between the import's lookup and its conditional writes. Fault injection
 * on the real database, not a mock: every statement still runs on D1.
 */
function raceBeforeFirstBatch(db: D1Database, concurrentWrite: () => Promise<unknown>): D1Database {
  let raced = false;
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          if (!raced) {
            raced = true;
            await concurrentWrite();
          }
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("CSV import against a concurrent writer", () => {
  it("re-applies a participant changed since its lookup through the atomic path, keeping both writes, and publishes what that did", async () => {
    const { team, apiKey, chatbot } = await teamWithChatbot();
    const contested = await createParticipant(apiKey, chatbot.id, { identifier: "contested", data: { plan: "free", seen: 1 } });
    const bystander = await createParticipant(apiKey, chatbot.id, { identifier: "bystander", data: { plan: "free" } });
    const db = raceBeforeFirstBatch(env.DB, () =>
      env.DB.prepare("UPDATE participants SET data = ?, version = version + 1 WHERE id = ?")
        .bind(JSON.stringify({ plan: "free", seen: 2 }), contested.id)
        .run(),
    );
    const published: DomainEvent[] = [];
    const file = await readImportFile(
      ["identifier,channel,data.plan", "contested,api,pro", "bystander,api,pro", "fresh,api,trial"].join("\n"),
    );

    const report = await importParticipants(
      db,
      team.id,
      (await findChatbot(env.DB, chatbot.id))!,
      file,
      new Date().toISOString(),
      newCost(),
      async (make) => {
        published.push(...make());
      },
    );

    expect(report).toEqual({ created: 1, updated: 2, unchanged: 0, errors: [] });
    // The concurrent write's `seen: 2` survives: the import's row was applied on top of it, not over it.
    const now = await getParticipant(apiKey, contested.id);
    expect(now).toMatchObject({ version: 3, data: { plan: "pro", seen: 2 } });
    expect((await getParticipant(apiKey, bystander.id)).data).toEqual({ plan: "pro" });
    const told = published.map((event) => [event.type, (event.data as { participant: { identifier: string } }).participant.identifier]);
    expect(told.sort()).toEqual([
      ["participant.created", "fresh"],
      ["participant.data.updated", "bystander"],
      ["participant.data.updated", "contested"],
    ]);
    const contestedEvent = published.find((event) => (event.data as { participant: { id: string } }).participant.id === contested.id)!;
    expect((contestedEvent.data as { participant: unknown }).participant).toEqual(now);
  });
});
