/** What every route of the Worker sees: its bindings. */
export type AppEnv = { Bindings: Env };

/** Routes behind a team API key (or a dashboard session): `teamId` and `scope` are set by `requireApiKey`. */
export type ApiEnv = { Bindings: Env; Variables: { teamId: string; scope: "write" | "read" } };
