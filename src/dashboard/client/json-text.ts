// Participant data as the dashboard shows and edits it: indented JSON, with every
// bidirectional control written as its \u escape. JSON text outside strings is ASCII, so
// these characters only occur inside strings, where the escape means the same character:
// the data is unchanged, and a visitor's U+202E cannot reorder the editor's lines.
// No DOM here: the Worker's page module renders with it too.

// Arabic letter mark, LRM, RLM, the embeddings and overrides, the isolates.
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(BIDI_CONTROLS, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
