import { dereference, type OutputUnit, type Schema, Validator } from "@cfworker/json-schema";
import { problem } from "../shared/problem";
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

const metaValidator = new Validator(metaSchema2020_12 as unknown as Schema, "2020-12", false);
const UNSUPPORTED_KEYWORDS = ["$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor"];

function findKeys(value: unknown, keys: string[], path: string, found: string[]): string[] {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) findKeys(item, keys, `${path}/${index}`, found);
  } else if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      const pointer = `${path}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
      if (keys.includes(key)) found.push(pointer);
      findKeys(child, keys, pointer, found);
    }
  }
  return found;
}

/**
 * Checks that `value` is a draft 2020-12 JSON Schema this service can enforce. Returns
 * the problems (empty where fine), with pointers into the schema document.
 */
export function checkDataSchema(value: unknown): SchemaError[] {
  const fail = (pointer: string, message: string, code: string): SchemaError[] => [{ pointer, message, code }];
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    return fail("", "must be a JSON Schema object (participant data is an object)", "type");
  }
  const declared = (value as { $schema?: unknown }).$schema;
  if (declared !== undefined && declared !== DRAFT_2020_12_URI && declared !== `${DRAFT_2020_12_URI}#`) {
    return fail("/$schema", `only draft 2020-12 is supported: omit $schema or set it to "${DRAFT_2020_12_URI}"`, "$schema");
  }
  const meta = metaValidator.validate(value);
  if (!meta.valid) return schemaErrors(meta.errors).map(({ schema_pointer: _, ...error }) => error);
  const unsupported = findKeys(value, UNSUPPORTED_KEYWORDS, "", []);
  if (unsupported.length) {
    return unsupported.map((pointer) => ({
      pointer,
      message: "dynamic and recursive references are not supported by this service's validator; use $ref",
      code: "unsupported",
    }));
  }
  // Every $ref must resolve inside the document: remote schemas are never fetched.
  const copy = structuredClone(value) as Schema;
  let lookup: Record<string, unknown>;
  try {
    lookup = dereference(copy);
  } catch (error) {
    return fail("", (error as Error).message, "$id");
  }
  const unresolved: SchemaError[] = [];
  const visit = (node: unknown, path: string) => {
    if (Array.isArray(node)) {
      for (const [index, item] of node.entries()) visit(item, `${path}/${index}`);
    } else if (node && typeof node === "object") {
      const absolute = (node as { __absolute_ref__?: string }).__absolute_ref__;
      if (absolute !== undefined && lookup[absolute] === undefined) {
        unresolved.push({
          pointer: `${path}/$ref`,
          message: `$ref "${(node as Schema).$ref}" does not resolve within the schema`,
          code: "$ref",
        });
      }
      for (const [key, child] of Object.entries(node)) visit(child, `${path}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`);
    }
  };
  visit(copy, "");
  return unresolved;
}

// Validators are built once per schema text per isolate.
const validators = new Map<string, Validator>();

function validatorFor(schemaText: string): Validator {
  let validator = validators.get(schemaText);
  if (!validator) {
    validator = new Validator(JSON.parse(schemaText) as Schema, "2020-12", false);
    if (validators.size >= 200) validators.clear();
    validators.set(schemaText, validator);
  }
  return validator;
}

/** Validation failures of `data` against a chatbot's stored schema text (none where no schema). */
export function validateData(schemaText: string | null, data: unknown): SchemaError[] {
  if (!schemaText) return [];
  const result = validatorFor(schemaText).validate(data);
  return result.valid ? [] : schemaErrors(result.errors);
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
