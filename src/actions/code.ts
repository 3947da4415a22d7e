/**
 * What an action's code may be, checked when it is saved: an ES module that parses, whose
 * default export is the action, and that imports nothing but "chat-context". And how it is
 * prepared to run: every loop iteration and function call counts against a budget
 * (`tick`), so a runaway loop ends with an error instead of holding the runtime's thread.
 */
import { type Node, Parser } from "acorn";

export const CODE_MAX_BYTES = 64 * 1024;
export const HELPERS_MODULE = "chat-context";
/** The runner's own module; an action cannot import it (only HELPERS_MODULE passes the check). */
export const INTERNAL_MODULE = "chat-context-internal.js";
const TICK = "__chatContextTick";
const RESERVED_PREFIX = "__chatContext";

export type CodeVerdict = { ok: true } | { ok: false; message: string; line: number; column: number };

function parse(code: string) {
  return Parser.parse(code, { ecmaVersion: "latest", sourceType: "module", locations: true });
}

/** Every node of the tree, depth-first, with its depth (an iterative walk: deep code cannot overflow the stack). */
function* walk(root: Node): Generator<{ node: Node; depth: number }> {
  const stack: { node: Node; depth: number }[] = [{ node: root, depth: 0 }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    yield entry;
    for (const value of Object.values(entry.node)) {
      const children = Array.isArray(value) ? value : [value];
      for (let i = children.length - 1; i >= 0; i--) {
        const child = children[i];
        if (child && typeof child === "object" && typeof (child as Node).type === "string") {
          stack.push({ node: child as Node, depth: entry.depth + 1 });
        }
      }
    }
  }
}

const at = (node: Node, message: string): CodeVerdict => ({
  ok: false,
  message,
  line: node.loc?.start.line ?? 1,
  column: (node.loc?.start.column ?? 0) + 1,
});

/** Checks code without running it: syntax, imports, a default export, no reserved names. */
export function checkCode(code: string): CodeVerdict {
  let program: Node;
  try {
    program = parse(code);
  } catch (error) {
    const loc = (error as { loc?: { line: number; column: number } }).loc;
    const message = error instanceof Error ? error.message.replace(/ \(\d+:\d+\)$/, "") : String(error);
    return { ok: false, message: `Syntax error: ${message}`, line: loc?.line ?? 1, column: (loc?.column ?? 0) + 1 };
  }
  let hasDefault = false;
  for (const { node } of walk(program)) {
    const any = node as Node & { source?: { value?: unknown } | null; name?: string };
    switch (node.type) {
      case "ImportDeclaration":
      case "ExportAllDeclaration":
      case "ExportNamedDeclaration":
        if (any.source && any.source.value !== HELPERS_MODULE) {
          return at(node, `Only "${HELPERS_MODULE}" can be imported; this imports ${JSON.stringify(any.source.value)}.`);
        }
        break;
      case "ImportExpression":
        return at(node, `import() is not available to actions; import helpers statically from "${HELPERS_MODULE}".`);
      case "ExportDefaultDeclaration":
        hasDefault = true;
        break;
      case "Identifier":
      case "PrivateIdentifier":
        if (any.name?.startsWith(RESERVED_PREFIX)) return at(node, `Names starting with ${RESERVED_PREFIX} are reserved.`);
        break;
    }
  }
  if (!hasDefault) return { ok: false, message: "The module must export default async function execute(context).", line: 1, column: 1 };
  return { ok: true };
}

const LOOPS = new Set(["WhileStatement", "DoWhileStatement", "ForStatement", "ForInStatement", "ForOfStatement"]);
const FUNCTIONS = new Set(["FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression"]);

type Edit = { at: number; text: string; closing: boolean; depth: number };

/**
 * The code with a `tick()` at the top of every loop body and function body. Only code that
 * passed `checkCode` comes here. Line numbers stay as the team wrote them: the import goes
 * on line 1 and every insertion is inline.
 */
export function instrument(code: string): string {
  const edits: Edit[] = [];
  for (const { node, depth } of walk(parse(code))) {
    if (LOOPS.has(node.type)) {
      const body = (node as Node & { body: Node }).body;
      edits.push({ at: body.start, text: `{${TICK}();`, closing: false, depth });
      edits.push({ at: body.end, text: "}", closing: true, depth });
    } else if (FUNCTIONS.has(node.type)) {
      const body = (node as Node & { body: Node }).body;
      if (body.type === "BlockStatement") {
        edits.push({ at: body.start + 1, text: `${TICK}();`, closing: false, depth });
      } else {
        edits.push({ at: body.start, text: `(${TICK}(), `, closing: false, depth });
        edits.push({ at: body.end, text: ")", closing: true, depth });
      }
    }
  }
  // At one position: closings before openings; the inner closes first, the outer opens first.
  edits.sort((a, b) => a.at - b.at || Number(b.closing) - Number(a.closing) || (a.closing ? b.depth - a.depth : a.depth - b.depth));
  let out = `import { tick as ${TICK} } from "${INTERNAL_MODULE}";`;
  let from = 0;
  for (const edit of edits) {
    out += code.slice(from, edit.at) + edit.text;
    from = edit.at;
  }
  return out + code.slice(from);
}
