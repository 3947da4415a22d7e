/**
 * The storage keys and prefixes of the widget's contract with the site, shared by the
 * Worker and the browser code (this module has no imports, so esbuild can bundle it into widget.js).
 */

/** `localStorage` keys the widget reads: `octocom:data:user_id`. */
export const WIDGET_STORAGE_PREFIX = "octocom:data:";

/** What such a key becomes as conversation metadata: `chat-widget:user_id`. */
export const WIDGET_KEY_PREFIX = "chat-widget:";

/**
 * The `localStorage` key where the site puts a visitor's identity token (a JWT signed with
 * the chatbot's identity secret). Outside WIDGET_STORAGE_PREFIX: it is never metadata.
 */
export const WIDGET_IDENTITY_TOKEN_KEY = "octocom:identity_token";
