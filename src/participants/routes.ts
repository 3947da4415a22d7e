import { Hono } from "hono";
import { requireApiKey } from "../api-keys/auth";
import { scheduleRoutes } from "../schedules/routes";
import type { ApiEnv } from "../shared/hono-env";
import { csvRoutes } from "./csv-routes";
import { dataRoutes } from "./data-routes";
import { promptVariableRoutes } from "./prompt-variable-routes";
import { recordRoutes } from "./record-routes";

/**
 * /v1/participants. The fixed paths (/export, /import, /by-identifier/...) are
 * registered before the /:id routes, so an id route never takes them.
 */
export const participantRoutes = new Hono<ApiEnv>();
participantRoutes.use(requireApiKey);
participantRoutes.route("/", csvRoutes);
participantRoutes.route("/", dataRoutes);
participantRoutes.route("/", scheduleRoutes);
participantRoutes.route("/", recordRoutes);
participantRoutes.route("/", promptVariableRoutes);
