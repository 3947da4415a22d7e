import { Hono } from "hono";
import { promptVariableRoutes } from "../prompts/routes";
import { requireApiKey, type ApiVariables } from "../shared/auth";
import { csvRoutes } from "./csv-routes";
import { dataRoutes } from "./data-routes";
import { recordRoutes } from "./record-routes";

/**
 * /v1/participants. The fixed paths (/export, /import, /by-identifier/...) are
 * registered before the /:id routes, so an id route never takes them.
 */
export const participantRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>();
participantRoutes.use(requireApiKey);
participantRoutes.route("/", csvRoutes);
participantRoutes.route("/", dataRoutes);
participantRoutes.route("/", recordRoutes);
participantRoutes.route("/", promptVariableRoutes);
