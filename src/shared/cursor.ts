import { z } from "zod";
import { ID_PATTERN } from "./ids";

/**
 * Every paged list takes the same cursor: the id of the last item of the page before
 * (`next_cursor`, or a message id for `after`). Anything else is a 400, on every route.
 */
export const Cursor = z.string().regex(ID_PATTERN, "must be a next_cursor value from an earlier page");
