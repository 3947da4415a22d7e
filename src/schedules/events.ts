/**
 * Where `schedule.fired` leaves for the team's webhooks: the one call site of the publisher.
 */
import type { DomainEvent } from "../webhooks/events";
import { publishEvents } from "../webhooks/publish";

/** Rejects where it could not be handed over; the same event again is delivered under the same ids. */
export function publishScheduleFired(env: Env, event: DomainEvent): Promise<void> {
  return publishEvents(env, [event]);
}
