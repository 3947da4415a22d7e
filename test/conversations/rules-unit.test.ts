import { describe, expect, it } from "vitest";
import { normalizeCustomerField } from "../../src/conversations/customer-fields";
import { applyMetadata, type MetadataStore, pairRejection } from "../../src/conversations/metadata-rules";
import { codePointLength } from "../../src/shared/encoding";

/** The rules' store contract over a Map, to test the pure rules without an object. */
function memoryStore(initial: Record<string, string> = {}) {
  const pairs = new Map(Object.entries(initial));
  const writes: string[] = [];
  const store: MetadataStore = {
    compare: (key, value) => (!pairs.has(key) ? "absent" : pairs.get(key) === value ? "same" : "different"),
    pairCount: () => pairs.size,
    upsert: (key, value) => {
      pairs.set(key, value);
      writes.push(key);
    },
  };
  return { store, pairs, writes };
}

describe("codePointLength", () => {
  it("counts code points, not UTF-16 units", () => {
    expect(codePointLength("")).toBe(0);
    expect(codePointLength("abc")).toBe(3);
    expect(codePointLength("𝒜")).toBe(1);
    expect(codePointLength("a𝒜b")).toBe(3);
    expect(codePointLength("e\u0301")).toBe(2); // a combining mark is its own code point
    expect(codePointLength("👩‍👩‍👧")).toBe([..."👩‍👩‍👧"].length);
    expect(codePointLength("\ud800")).toBe(1);
    expect(codePointLength("\ud800\ud800")).toBe(2);
  });
});

describe("pairRejection", () => {
  const prefix = "chat-widget:".length;
  it("names the first broken rule", () => {
    expect(pairRejection("chat-widget:", prefix, "v")).toBe("key_empty");
    expect(pairRejection(`chat-widget:${"k".repeat(189)}`, prefix, "v")).toBe("key_too_long");
    expect(pairRejection(`chat-widget:${"k".repeat(188)}`, prefix, "v")).toBeNull();
    expect(pairRejection("chat-widget:k", prefix, 1)).toBe("value_not_string");
    expect(pairRejection("chat-widget:k", prefix, undefined)).toBe("value_not_string");
    expect(pairRejection("chat-widget:k", prefix, "x".repeat(50_001))).toBe("value_too_long");
    expect(pairRejection("chat-widget:k", prefix, "𝒜".repeat(50_000))).toBeNull();
    expect(pairRejection("k", 0, "v")).toBeNull();
  });
});

describe("applyMetadata", () => {
  it("writes only what changed and reports unchanged keys as accepted", () => {
    const { store, writes } = memoryStore({ "chat-widget:a": "1", "chat-widget:b": "2" });
    const outcome = applyMetadata(store, Object.entries({ a: "1", b: "changed", c: "new" }), "chat-widget:");
    expect(outcome.accepted).toEqual(["a", "b", "c"]);
    expect(outcome.changed).toBe(2);
    expect(writes).toEqual(["chat-widget:b", "chat-widget:c"]);
  });

  it("stops new keys at 200 pairs within one batch", () => {
    const { store, pairs } = memoryStore();
    const entries = Array.from({ length: 205 }, (_, i) => [`k${i}`, "v"] as [string, unknown]);
    const outcome = applyMetadata(store, entries, "chat-widget:");
    expect(outcome.accepted).toHaveLength(200);
    expect(outcome.rejected).toEqual(entries.slice(200).map(([key]) => ({ key, reason: "pair_limit_reached" })));
    expect(pairs.size).toBe(200);
  });

  it("collects valid special keys for the customer record, normalized", () => {
    const { store } = memoryStore();
    const outcome = applyMetadata(
      store,
      Object.entries({ email: " a@example.com ", phone: "+1 415 555 2671", name: " Ann " }),
      "chat-widget:",
    );
    expect(outcome.customer).toEqual({ email: "a@example.com", phone: "+14155552671", name: "Ann" });
    expect(outcome.warnings).toEqual([]);
  });

  it("recognizes special keys only under the widget prefix", () => {
    const { store } = memoryStore();
    expect(applyMetadata(store, [["email", "a@example.com"]], "").customer).toEqual({});
    expect(applyMetadata(store, [["chat-widget:email", "a@example.com"]], "").customer).toEqual({ email: "a@example.com" });
  });
});

describe("normalizeCustomerField", () => {
  it("normalizes phones to E.164", () => {
    expect(normalizeCustomerField("phone", "+44 20 7946 0958")).toEqual({ ok: true, value: "+442079460958" });
    expect(normalizeCustomerField("phone", "+370 600 00000")).toEqual({ ok: true, value: "+37060000000" });
    expect(normalizeCustomerField("phone", "+44 20 7946 095")).toEqual({ ok: false, warning: "invalid_phone" });
    expect(normalizeCustomerField("phone", `+${"1".repeat(70)}`)).toEqual({ ok: false, warning: "invalid_phone" });
  });

  it("checks emails", () => {
    expect(normalizeCustomerField("email", "ok@example.com")).toEqual({ ok: true, value: "ok@example.com" });
    expect(normalizeCustomerField("email", "no spaces@example.com")).toEqual({ ok: false, warning: "invalid_email" });
    expect(normalizeCustomerField("email", `${"a".repeat(250)}@example.com`)).toEqual({ ok: false, warning: "invalid_email" });
  });
});
