import { Parser } from "acorn";
import { describe, expect, it } from "vitest";
import { checkCode, instrument } from "../../src/actions/code";

const parses = (code: string) => Parser.parse(code, { ecmaVersion: "latest", sourceType: "module" });

describe("checkCode", () => {
  it("accepts a module with a default export that imports only chat-context", () => {
    expect(
      checkCode(`import { getConversationMetadata } from "chat-context";\nexport default async function execute(context) { return 1; }`),
    ).toEqual({ ok: true });
  });

  it("names the line and column of a syntax error, 1-based", () => {
    expect(checkCode("export default async () => {\n  let x = ;\n};")).toEqual({
      ok: false,
      message: "Syntax error: Unexpected token",
      line: 2,
      column: 11,
    });
  });

  it("refuses other imports, re-exports, import() and reserved names where they are", () => {
    expect(checkCode(`export default 1;\n  import x from "node:fs";`)).toMatchObject({ ok: false, line: 2, column: 3 });
    expect(checkCode(`export { a } from "./other.js";\nexport default 1;`)).toMatchObject({ ok: false, line: 1, column: 1 });
    expect(checkCode(`export default async () => import("chat-context");`)).toMatchObject({ ok: false, message: /import\(\)/ });
    expect(checkCode(`export default () => { let __chatContextX = 1; };`)).toMatchObject({ ok: false, line: 1, column: 28 });
    expect(checkCode(`export const a = 1;`)).toMatchObject({ ok: false, message: /export default/ });
  });

  it("survives deeply nested code without overflowing the stack", () => {
    const deep = `export default () => ${"[".repeat(3000)}${"]".repeat(3000)};`;
    expect(checkCode(deep).ok).toBeTypeOf("boolean");
  });
});

describe("instrument", () => {
  it("ticks at the top of every loop and function body, keeping lines where they were", () => {
    const code = `export default async function execute(context) {\n  while (true) x++;\n  for (;;) { y(); }\n  return [1].map((n) => ({ n }));\n}`;
    const out = instrument(code);
    expect(() => parses(out)).not.toThrow();
    expect(out.split("\n")).toHaveLength(code.split("\n").length);
    expect(out).toContain("while (true) {__chatContextTick();x++;}");
    expect(out).toContain("for (;;) {__chatContextTick();{ y(); }}");
    expect(out).toContain("[1].map((n) => ((__chatContextTick(), { n })))");
    expect(out.split("\n")[0]).toMatch(
      /^import \{ tick as __chatContextTick \} from "chat-context-internal\.js";export default async function execute\(context\) \{__chatContextTick\(\);$/,
    );
  });

  it("nests correctly where a loop body ends where an arrow ends (no semicolon)", () => {
    const out = instrument("export default () => { while (a) () => b\n do f = () => c\n while (x) }");
    expect(() => parses(out)).not.toThrow();
    expect(out).toContain("while (a) {__chatContextTick();() => (__chatContextTick(), b)}");
  });

  it("covers methods, getters, generators and class members", () => {
    const out = instrument(
      "export default class A { get x() { for (const k of []) {} return 1 } *g() { do {} while (0) } static { for (const k in {}) ; } }",
    );
    expect(() => parses(out)).not.toThrow();
    expect(out.match(/__chatContextTick\(\)/g)).toHaveLength(5);
  });
});
