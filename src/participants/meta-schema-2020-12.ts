/**
 * The JSON Schema draft 2020-12 meta-schema, its seven vocabularies (core, applicator,
 * unevaluated, validation, meta-data, format-annotation, content) merged into one
 * document. The official documents recurse through `$dynamicRef: "#meta"`, which
 * @cfworker/json-schema does not implement; without extension vocabularies that
 * reference always lands on the root, so it is written here as `$ref: "#"`.
 */
export const DRAFT_2020_12_URI = "https://json-schema.org/draft/2020-12/schema";

const anchorString = { type: "string", pattern: "^[A-Za-z_][-A-Za-z0-9._]*$" };
const uriString = { type: "string", format: "uri" };
const uriReferenceString = { type: "string", format: "uri-reference" };
const schema = { $ref: "#" };
const schemaMap = { type: "object", additionalProperties: schema, default: {} };

export const metaSchema2020_12 = {
  $id: "urn:chat-context:meta:2020-12",
  type: ["object", "boolean"],
  properties: {
    // core
    $id: { $ref: "#/$defs/uriReferenceString", $comment: "Non-empty fragments not allowed.", pattern: "^[^#]*#?$" },
    $schema: { $ref: "#/$defs/uriString" },
    $ref: { $ref: "#/$defs/uriReferenceString" },
    $anchor: { $ref: "#/$defs/anchorString" },
    $dynamicRef: { $ref: "#/$defs/uriReferenceString" },
    $dynamicAnchor: { $ref: "#/$defs/anchorString" },
    $vocabulary: {
      type: "object",
      propertyNames: { $ref: "#/$defs/uriString" },
      additionalProperties: { type: "boolean" },
    },
    $comment: { type: "string" },
    $defs: schemaMap,
    // applicator
    prefixItems: { $ref: "#/$defs/schemaArray" },
    items: schema,
    contains: schema,
    additionalProperties: schema,
    properties: schemaMap,
    patternProperties: { ...schemaMap, propertyNames: { format: "regex" } },
    dependentSchemas: schemaMap,
    propertyNames: schema,
    if: schema,
    // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword
    then: schema,
    else: schema,
    allOf: { $ref: "#/$defs/schemaArray" },
    anyOf: { $ref: "#/$defs/schemaArray" },
    oneOf: { $ref: "#/$defs/schemaArray" },
    not: schema,
    // unevaluated
    unevaluatedItems: schema,
    unevaluatedProperties: schema,
    // validation
    type: {
      anyOf: [{ $ref: "#/$defs/simpleTypes" }, { type: "array", items: { $ref: "#/$defs/simpleTypes" }, minItems: 1, uniqueItems: true }],
    },
    const: true,
    enum: { type: "array", items: true },
    multipleOf: { type: "number", exclusiveMinimum: 0 },
    maximum: { type: "number" },
    exclusiveMaximum: { type: "number" },
    minimum: { type: "number" },
    exclusiveMinimum: { type: "number" },
    maxLength: { $ref: "#/$defs/nonNegativeInteger" },
    minLength: { $ref: "#/$defs/nonNegativeInteger" },
    pattern: { type: "string", format: "regex" },
    maxItems: { $ref: "#/$defs/nonNegativeInteger" },
    minItems: { $ref: "#/$defs/nonNegativeInteger" },
    uniqueItems: { type: "boolean", default: false },
    maxContains: { $ref: "#/$defs/nonNegativeInteger" },
    minContains: { $ref: "#/$defs/nonNegativeInteger", default: 1 },
    maxProperties: { $ref: "#/$defs/nonNegativeInteger" },
    minProperties: { $ref: "#/$defs/nonNegativeInteger" },
    required: { $ref: "#/$defs/stringArray" },
    dependentRequired: { type: "object", additionalProperties: { $ref: "#/$defs/stringArray" } },
    // meta-data
    title: { type: "string" },
    description: { type: "string" },
    default: true,
    deprecated: { type: "boolean", default: false },
    readOnly: { type: "boolean", default: false },
    writeOnly: { type: "boolean", default: false },
    examples: { type: "array", items: true },
    // format-annotation
    format: { type: "string" },
    // content
    contentEncoding: { type: "string" },
    contentMediaType: { type: "string" },
    contentSchema: schema,
    // keywords of earlier drafts that the 2020-12 meta-schema still describes
    definitions: schemaMap,
    dependencies: {
      type: "object",
      additionalProperties: { anyOf: [schema, { $ref: "#/$defs/stringArray" }] },
    },
  },
  $defs: {
    anchorString,
    uriString,
    uriReferenceString,
    schemaArray: { type: "array", minItems: 1, items: schema },
    nonNegativeInteger: { type: "integer", minimum: 0 },
    simpleTypes: { enum: ["array", "boolean", "integer", "null", "number", "object", "string"] },
    stringArray: { type: "array", items: { type: "string" }, uniqueItems: true, default: [] },
  },
} as const;
