/**
 * The two prefixes of the Octocom custom-data contract, shared by the Worker and the
 * browser code (this module has no imports, so esbuild can bundle it into widget.js).
 */

/** `localStorage` keys the widget reads: `octocom:data:user_id`. */
export const WIDGET_STORAGE_PREFIX = "octocom:data:";

/** What such a key becomes as conversation metadata: `chat-widget:user_id`. */
export const WIDGET_KEY_PREFIX = "chat-widget:";
