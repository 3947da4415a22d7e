/**
 * Limits of participant data, documented in docs/participants.md. Sizes are UTF-8 bytes
 * of the compact JSON serialization, the form in which data is stored.
 */
export const DATA_MAX_BYTES = 64 * 1024;
/** Objects and arrays nested deeper than this are refused (keeps validation and rendering bounded). */
export const DATA_MAX_DEPTH = 32;
/**
 * A participant_data_schema may nest at most this deep as JSON (a data level takes about
 * two: `properties`, then the key), so saving and validating it never overflows the stack.
 */
export const SCHEMA_MAX_DEPTH = 128;
/**
 * The longest chain of subschemas a schema may apply to one value in place (`$ref` and its
 * target, `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, `dependentSchemas`) before
 * it descends into the value. The validator recurses once per step, so 33 data levels of
 * such chains stay well inside the stack (measured: chains of 20 overflow at depth 32).
 */
export const SCHEMA_MAX_IN_PLACE_CHAIN = 12;
/**
 * Patterns run on RE2, in time linear in the text times (at worst) the compiled pattern's
 * size; these bound that size per pattern and over a schema's patterns.
 */
export const PATTERN_MAX_PROGRAM_SIZE = 2_500;
export const SCHEMA_MAX_PATTERN_PROGRAM_SIZE = 10_000;
/** Request bodies of data writes: larger bodies answer 413 before they are parsed. */
export const DATA_WRITE_BODY_MAX_BYTES = 256 * 1024;
/** Keys addressed by the bot tools (append, increment). */
export const TOOL_KEY_MAX_CODE_POINTS = 200;
/** CSV import: body and row limits (413 where exceeded, nothing applied). */
export const CSV_IMPORT_MAX_BYTES = 4 * 1024 * 1024;
export const CSV_IMPORT_MAX_ROWS = 10_000;
/** Page size of GET /v1/participants. */
export const LIST_DEFAULT_LIMIT = 50;
export const LIST_MAX_LIMIT = 200;
