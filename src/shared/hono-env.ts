/** What every route of the Worker sees: its bindings. */
export type AppEnv = { Bindings: Env };

/** Routes behind a team API key: `teamId` is set by `requireApiKey`. */
export type ApiEnv = { Bindings: Env; Variables: { teamId: string } };
