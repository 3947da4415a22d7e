import { describe, expect, it } from "vitest";
import { finishRender, formatCurrentDatetime, renderTemplate } from "../../src/prompts/template";

const input = {
  data: { plan: "pro", tasks: [{ name: "call", due: "2025-01-31" }, "plain"], "odd key": { "x.y": 5 }, flag: false, none: null, n: 0 },
  name: "Ona",
  timezone: "Europe/Vilnius",
};
const render = (template: string, values = input, now = new Date("2025-07-01T09:05:03Z")) =>
  finishRender(renderTemplate(template, values), now, values.timezone);

describe("prompt templates", () => {
  it("renders {participant_data} as real JSON with name and timezone added", () => {
    const text = render("{participant_data}");
    expect(JSON.parse(text)).toEqual({ ...input.data, name: "Ona", timezone: "Europe/Vilnius" });
    expect(text).not.toContain("'"); // not a Python dict string
  });

  it("does not override name or timezone already in the data, and adds nothing unset", () => {
    expect(JSON.parse(render("{participant_data}", { data: { name: "From data" }, name: "Record", timezone: null } as any))).toEqual({
      name: "From data",
    });
    expect(render("{participant_data}", { data: {}, name: null, timezone: null } as any)).toBe("{}");
  });

  it("renders one value by path: strings raw, other JSON as JSON, missing and null as empty", () => {
    expect(render("{participant_data.plan}")).toBe("pro");
    expect(render("{participant_data.tasks[0].name}")).toBe("call");
    expect(render("{participant_data.tasks[0]}")).toBe('{"name":"call","due":"2025-01-31"}');
    expect(render("{participant_data.tasks[1]}")).toBe("plain");
    expect(render("{participant_data.tasks.0.due}")).toBe("2025-01-31");
    expect(render('{participant_data["odd key"]["x.y"]}')).toBe("5");
    expect(
      render(
        "{participant_data.flag}|{participant_data.n}|{participant_data.none}|{participant_data.missing.deep}|{participant_data.tasks[9]}",
      ),
    ).toBe("false|0|||");
    expect(render("{participant_data.name} in {participant_data.timezone}")).toBe("Ona in Europe/Vilnius");
    expect(render("{participant_data.plan.length}")).toBe("");
  });

  it("renders {current_datetime} in the participant's timezone, UTC where unknown", () => {
    expect(render("now: {current_datetime}")).toBe("now: Tuesday, 2025-07-01 12:05:03 +03:00 (Europe/Vilnius)");
    expect(formatCurrentDatetime(new Date("2025-01-01T00:30:00Z"), "America/New_York")).toBe(
      "Tuesday, 2024-12-31 19:30:00 -05:00 (America/New_York)",
    );
    expect(formatCurrentDatetime(new Date("2025-01-01T00:30:00Z"), null)).toBe("Wednesday, 2025-01-01 00:30:00 +00:00 (UTC)");
    expect(formatCurrentDatetime(new Date("2025-01-01T00:30:00Z"), "Asia/Kolkata")).toContain("+05:30");
  });

  it("treats {{ and }} as literal braces and leaves unknown {...} as written", () => {
    expect(render("{{participant_data}}")).toBe("{participant_data}");
    expect(render("{{{participant_data.plan}}}")).toBe("{pro}");
    expect(render('JSON: {{"a": 1}}')).toBe('JSON: {"a": 1}');
    expect(render("{unknown} {participant_data.} {participant_data..x} {participant_datum} { participant_data }")).toBe(
      "{unknown} {participant_data.} {participant_data..x} {participant_datum} { participant_data }",
    );
    expect(render("lonely { and } braces, {unclosed")).toBe("lonely { and } braces, {unclosed");
    expect(render("{a {participant_data.plan}}")).toBe("{a pro}");
    expect(render("{{current_datetime}}")).toBe("{current_datetime}");
  });

  it("keeps the clock out of the cacheable parts", () => {
    const parts = renderTemplate("a {current_datetime} b {current_datetime}", input);
    expect(parts).toEqual(["a ", " b ", ""]);
  });
});
