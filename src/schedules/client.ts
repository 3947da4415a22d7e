/**
 * The typed client of a participant's ScheduleObject: routes call it and never hold a raw stub.
 */
import type { ScheduleObject } from "./schedule-object";

class ScheduleClient {
  private readonly stub: DurableObjectStub<ScheduleObject>;

  constructor(
    env: Env,
    private readonly participantId: string,
  ) {
    const namespace = env.SCHEDULES as DurableObjectNamespace<ScheduleObject>;
    this.stub = namespace.get(namespace.idFromName(participantId));
  }

  /** Makes the participant's alarm ring no later than `atMs`. */
  arm(atMs: number): Promise<void> {
    return this.stub.arm(this.participantId, atMs) as Promise<void>;
  }
}

export const scheduleClient = (env: Env, participantId: string) => new ScheduleClient(env, participantId);
