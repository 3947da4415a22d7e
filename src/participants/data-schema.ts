import {
  dereference,
  ignoredKeyword,
  type OutputUnit,
  type Schema,
  schemaArrayKeyword,
  schemaMapKeyword,
  Validator,
} from "@cfworker/json-schema";
import { RE2JS } from "re2js";
import { problem } from "../shared/problem";
import { jsonDepth } from "./json-data";
import { PATTERN_MAX_PROGRAM_SIZE, SCHEMA_MAX_DEPTH, SCHEMA_MAX_IN_PLACE_CHAIN, SCHEMA_MAX_PATTERN_PROGRAM_SIZE } from "./limits";
import { DRAFT_2020_12_URI, metaSchema2020_12 } from "./meta-schema-2020-12";

/** One failing place: `pointer` (RFC 6901) into the checked document, `schema_pointer` into the schema. */
type SchemaError = { pointer: string; message: string; code: string; schema_pointer?: string };

// `#/a/b` (the library's locations) -> `/a/b`; the root is "".
const toPointer = (location: string) => (location.startsWith("#") ? location.slice(1) : location);

// Applicator keywords only say "a subschema failed"; where a deeper error explains the
// failure, the applicator's own line is noise and is left out.
const APPLICATORS = new Set([
  "properties",
  "patternProperties",
  "additionalProperties",
  "items",
  "prefixItems",
  "contains",
  "allOf",
  "$ref",
  "dependentSchemas",
  "unevaluatedProperties",
  "unevaluatedItems",
  "then",
  "else",
  "propertyNames",
]);

function schemaErrors(units: OutputUnit[]): SchemaError[] {
  const errors = units.map((unit) => ({
    pointer: toPointer(unit.instanceLocation),
    message: unit.error,
    code: unit.keyword,
    schema_pointer: toPointer(unit.keywordLocation),
  }));
  const explained = (error: SchemaError) =>
    APPLICATORS.has(error.code) &&
    errors.some((other) => other !== error && !APPLICATORS.has(other.code) && other.schema_pointer!.startsWith(`${error.schema_pointer}/`));
  const leaves = errors.filter((error) => !explained(error));
  // Same place and message reached through two paths: report it once.
  const seen = new Set<string>();
  return leaves.filter((error) => {
    const key = `${error.pointer}\u0000${error.code}\u0000${error.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const escapePointer = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");

// Regular expressions: the library evaluates `pattern`, `patternProperties` and
// `format: "regex"` with `new RegExp(source, "u")`, which backtracks: `^(a+)+$` against
// 30 characters takes seconds. RE2 matches in linear time; it refuses what needs
// backtracking (backreferences, lookaround), which is refused when a schema is saved.
const re2Cache = new Map<string, RE2JS>();

function compileRe2(source: string): RE2JS {
  let compiled = re2Cache.get(source);
  if (!compiled) {
    // ECMAScript escapes RE2 spells otherwise (\u0041, \u{1F600}, \cJ, [^]).
    compiled = RE2JS.compile(RE2JS.translateRegExp(source));
    // Schema patterns are short and met on every write; long sources are mostly data
    // checked by `format: "regex"`, not worth keeping.
    if (source.length <= 1024) {
      if (re2Cache.size >= 500) re2Cache.clear();
      re2Cache.set(source, compiled);
    }
  }
  return compiled;
}

/** Stands in for RegExp while the library validates: it only ever calls `new RegExp(source, "u").test(text)`. */
class LinearRegExp {
  readonly #compiled: RE2JS;
  constructor(source: string) {
    this.#compiled = compileRe2(source);
  }
  test(text: string): boolean {
    return this.#compiled.test(text);
  }
}

// The library reads the global `RegExp` when it meets a pattern; validation is
// synchronous, so no other code of this isolate runs while the stand-in is installed.
function withLinearRegExp<T>(run: () => T): T {
  const native = globalThis.RegExp;
  globalThis.RegExp = LinearRegExp as unknown as RegExpConstructor;
  try {
    return run();
  } finally {
    globalThis.RegExp = native;
  }
}

type SchemaNode = { node: Record<string, unknown>; pointer: string };

/** Every subschema as the library sees them (the positions `dereference` visits), with its pointer; no recursion. */
function subschemas(root: unknown): SchemaNode[] {
  const found: SchemaNode[] = [];
  const pending: [unknown, string][] = [[root, ""]];
  while (pending.length > 0) {
    const [node, pointer] = pending.pop()!;
    if (!node || typeof node !== "object" || Array.isArray(node)) continue;
    found.push({ node: node as Record<string, unknown>, pointer });
    for (const [key, child] of Object.entries(node)) {
      if (ignoredKeyword[key]) continue;
      const at = `${pointer}/${escapePointer(key)}`;
      if (Array.isArray(child)) {
        if (schemaArrayKeyword[key]) for (const [index, item] of child.entries()) pending.push([item, `${at}/${index}`]);
      } else if (schemaMapKeyword[key] && child && typeof child === "object") {
        for (const [name, item] of Object.entries(child)) pending.push([item, `${at}/${escapePointer(name)}`]);
      } else pending.push([child, at]);
    }
  }
  return found;
}

/**
 * `pattern` and `patternProperties` sources RE2 cannot run, or that are too costly: RE2
 * takes time linear in the text, times (at worst) the size of the compiled pattern.
 */
function unsupportedPatterns(nodes: SchemaNode[]): SchemaError[] {
  const errors: SchemaError[] = [];
  let total = 0;
  const check = (source: string, pointer: string) => {
    let size: number;
    try {
      size = compileRe2(source).programSize();
    } catch (error) {
      errors.push({
        pointer,
        message: `this pattern cannot run in linear time (RE2 syntax; no backreferences or lookaround): ${(error as Error).message}`,
        code: "pattern",
      });
      return;
    }
    total += size;
    if (size > PATTERN_MAX_PROGRAM_SIZE) {
      errors.push({
        pointer,
        message: `this pattern compiles to ${size} RE2 instructions, more than ${PATTERN_MAX_PROGRAM_SIZE} (large counted repetitions such as .{5000}; prefer minLength and maxLength)`,
        code: "pattern",
      });
    } else if (total > SCHEMA_MAX_PATTERN_PROGRAM_SIZE && errors.length === 0) {
      errors.push({
        pointer,
        message: `the schema's patterns compile to more than ${SCHEMA_MAX_PATTERN_PROGRAM_SIZE} RE2 instructions in all`,
        code: "pattern",
      });
    }
  };
  for (const { node, pointer } of nodes) {
    if (typeof node.pattern === "string") check(node.pattern, `${pointer}/pattern`);
    const patternProperties = node.patternProperties;
    if (patternProperties && typeof patternProperties === "object" && !Array.isArray(patternProperties)) {
      for (const source of Object.keys(patternProperties)) check(source, `${pointer}/patternProperties/${escapePointer(source)}`);
    }
  }
  return errors;
}

/** The subschemas `node` applies to the very value it validates, each with the keyword path that leads there. */
function inPlaceEdges(node: Record<string, unknown>, lookup: Record<string, unknown>): [unknown, string][] {
  const edges: [unknown, string][] = [];
  const absolute = (node as { __absolute_ref__?: string }).__absolute_ref__;
  if (absolute !== undefined) edges.push([lookup[absolute], "/$ref"]);
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    const list = node[key];
    if (Array.isArray(list)) for (const [index, item] of list.entries()) edges.push([item, `/${key}/${index}`]);
  }
  for (const key of ["not", "if", "then", "else"]) if (Object.hasOwn(node, key)) edges.push([node[key], `/${key}`]);
  for (const key of ["dependentSchemas", "dependencies"]) {
    const map = node[key];
    if (map && typeof map === "object" && !Array.isArray(map)) {
      for (const [name, item] of Object.entries(map)) if (!Array.isArray(item)) edges.push([item, `/${key}/${escapePointer(name)}`]);
    }
  }
  return edges.filter(([target]) => target !== null && typeof target === "object");
}

/**
 * Refuses a cycle of subschemas applied in place (`{"$ref": "#"}`, `a -> b -> a`): the
 * validator would recurse on the same value until the stack overflows. Recursion
 * through `properties`, `items` and the like is fine: each step descends into the data.
 * Also bounds the longest such chain. Iterative depth-first search.
 */
function inPlaceCycles(nodes: SchemaNode[], lookup: Record<string, unknown>): SchemaError[] {
  const pointers = new Map<unknown, string>(nodes.map(({ node, pointer }) => [node, pointer]));
  const chain = new Map<unknown, number>(); // finished: the longest in-place chain from here
  const open = new Set<unknown>();
  for (const { node: start } of nodes) {
    if (chain.has(start)) continue;
    const stack: { node: Record<string, unknown>; edges: [unknown, string][]; next: number; longest: number }[] = [];
    const enter = (node: Record<string, unknown>) => {
      open.add(node);
      stack.push({ node, edges: inPlaceEdges(node, lookup), next: 0, longest: 1 });
    };
    enter(start);
    while (stack.length > 0) {
      const frame = stack.at(-1)!;
      if (frame.next < frame.edges.length) {
        const [target, via] = frame.edges[frame.next++]!;
        if (open.has(target)) {
          const pointer = `${pointers.get(frame.node) ?? ""}${via}`;
          return [
            {
              pointer,
              message: `this $ref closes a cycle back to ${pointers.get(target) || "the root"} that applies subschemas to the same value forever; recurse only through keywords that descend into the data, such as properties or items`,
              code: "$ref",
            },
          ];
        }
        const done = chain.get(target);
        if (done === undefined) enter(target as Record<string, unknown>);
        else frame.longest = Math.max(frame.longest, done + 1);
        continue;
      }
      stack.pop();
      open.delete(frame.node);
      chain.set(frame.node, frame.longest);
      const parent = stack.at(-1);
      if (parent) parent.longest = Math.max(parent.longest, frame.longest + 1);
      if (frame.longest > SCHEMA_MAX_IN_PLACE_CHAIN) {
        return [
          {
            pointer: pointers.get(frame.node) ?? "",
            message: `this subschema applies a chain of more than ${SCHEMA_MAX_IN_PLACE_CHAIN} subschemas ($ref, allOf, anyOf, oneOf, not, if) to the same value`,
            code: "$ref",
          },
        ];
      }
    }
  }
  return [];
}

/** What keeps a meta-valid schema from being enforced here: unresolved references, cycles, patterns RE2 cannot run. */
function enforceabilityErrors(value: unknown): SchemaError[] {
  // Every $ref must resolve inside the document: remote schemas are never fetched.
  const copy = structuredClone(value) as Schema;
  let lookup: Record<string, unknown>;
  try {
    lookup = dereference(copy);
  } catch (error) {
    return [{ pointer: "", message: (error as Error).message, code: "$id" }];
  }
  const nodes = subschemas(copy);
  const unresolved: SchemaError[] = [];
  for (const { node, pointer } of nodes) {
    const absolute = (node as { __absolute_ref__?: string }).__absolute_ref__;
    if (absolute !== undefined && lookup[absolute] === undefined) {
      unresolved.push({ pointer: `${pointer}/$ref`, message: `$ref "${node.$ref}" does not resolve within the schema`, code: "$ref" });
    }
  }
  if (unresolved.length) return unresolved;
  const patterns = unsupportedPatterns(nodes);
  if (patterns.length) return patterns;
  return inPlaceCycles(nodes, lookup);
}

const metaValidator = new Validator(metaSchema2020_12 as unknown as Schema, "2020-12", false);
const UNSUPPORTED_KEYWORDS = new Set(["$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor"]);

/**
 * Checks that `value` is a draft 2020-12 JSON Schema this service can enforce. Returns
 * the problems (empty where fine), with pointers into the schema document.
 */
export function checkDataSchema(value: unknown): SchemaError[] {
  const fail = (pointer: string, message: string, code: string): SchemaError[] => [{ pointer, message, code }];
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    return fail("", "must be a JSON Schema object (participant data is an object)", "type");
  }
  // Before any recursive walk (the meta-schema check, structuredClone): a body may nest 30,000 levels.
  if (jsonDepth(value, SCHEMA_MAX_DEPTH) > SCHEMA_MAX_DEPTH) {
    return fail("", `must nest objects and arrays at most ${SCHEMA_MAX_DEPTH} levels deep`, "depth");
  }
  const declared = (value as { $schema?: unknown }).$schema;
  if (declared !== undefined && declared !== DRAFT_2020_12_URI && declared !== `${DRAFT_2020_12_URI}#`) {
    return fail("/$schema", `only draft 2020-12 is supported: omit $schema or set it to "${DRAFT_2020_12_URI}"`, "$schema");
  }
  let meta: ReturnType<Validator["validate"]>;
  try {
    meta = metaValidator.validate(value);
  } catch (error) {
    return fail("", `the schema cannot be checked: ${(error as Error).message}`, "schema");
  }
  if (!meta.valid) return schemaErrors(meta.errors).map(({ schema_pointer: _, ...error }) => error);
  const unsupported = subschemas(value).flatMap(({ node, pointer }) =>
    Object.keys(node)
      .filter((key) => UNSUPPORTED_KEYWORDS.has(key))
      .map((key) => ({
        pointer: `${pointer}/${key}`,
        message: "dynamic and recursive references are not supported by this service's validator; use $ref",
        code: "unsupported",
      })),
  );
  if (unsupported.length) return unsupported;
  const defects = enforceabilityErrors(value);
  if (defects.length) return defects;
  // A last guard: whatever still throws on a trial value would throw at every write.
  try {
    const trial = new Validator(structuredClone(value) as Schema, "2020-12", false);
    withLinearRegExp(() => {
      for (const sample of TRIAL_VALUES) trial.validate(sample);
    });
  } catch (error) {
    return fail("", `the schema cannot be evaluated: ${(error as Error).message}`, "schema");
  }
  return [];
}

const TRIAL_VALUES: unknown[] = [{}, { "": null }, [], [null], "", 0, null, true];

const unenforceable = (why: string): SchemaError[] => [
  {
    pointer: "",
    message: `the chatbot's participant_data_schema cannot be enforced (${why}); fix it with PATCH /v1/chatbots/{id}`,
    code: "schema",
  },
];

/** A validator, or why the stored schema cannot be enforced (saved before a check existed). */
function buildValidator(schemaText: string): Validator | SchemaError[] {
  const schema = JSON.parse(schemaText) as Schema;
  if (jsonDepth(schema, SCHEMA_MAX_DEPTH) > SCHEMA_MAX_DEPTH) return unenforceable(`it nests deeper than ${SCHEMA_MAX_DEPTH} levels`);
  const defects = enforceabilityErrors(schema);
  if (defects.length) return unenforceable(defects.map((defect) => `${defect.pointer || "(root)"}: ${defect.message}`).join("; "));
  return new Validator(schema, "2020-12", false);
}

// Built once per schema text per isolate, refusals included.
const validators = new Map<string, Validator | SchemaError[]>();

function validatorFor(schemaText: string): Validator | SchemaError[] {
  let validator = validators.get(schemaText);
  if (!validator) {
    validator = buildValidator(schemaText);
    if (validators.size >= 200) validators.clear();
    validators.set(schemaText, validator);
  }
  return validator;
}

/** Validation failures of `data` against a chatbot's stored schema text (none where no schema). */
export function validateData(schemaText: string | null, data: unknown): SchemaError[] {
  if (!schemaText) return [];
  const validator = validatorFor(schemaText);
  if (Array.isArray(validator)) return validator;
  try {
    const result = withLinearRegExp(() => validator.validate(data));
    return result.valid ? [] : schemaErrors(result.errors);
  } catch (error) {
    // Never a 500 for what a stored schema does: whatever throws is that schema's fault.
    return unenforceable((error as Error).message);
  }
}

function schemaViolation(
  errors: SchemaError[],
  detailPrefix = "The participant data does not match the chatbot's participant_data_schema",
) {
  const where = errors.map((error) => `${error.pointer || "(root)"}: ${error.message}`).join("; ");
  return problem("schema-violation", `${detailPrefix}: ${where}. Nothing was written.`, { errors });
}

/** Throws the 422 problem where `data` violates the schema. */
export function assertMatchesSchema(schemaText: string | null, data: unknown): void {
  const errors = validateData(schemaText, data);
  if (errors.length) throw schemaViolation(errors);
}
