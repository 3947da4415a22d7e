/**
 * Limits of participant data, documented in docs/participants.md. Sizes are UTF-8 bytes
 * of the compact JSON serialization, the form in which data is stored.
 */
export const DATA_MAX_BYTES = 64 * 1024;
/** Objects and arrays nested deeper than this are refused (keeps validation and rendering bounded). */
export const DATA_MAX_DEPTH = 32;
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
