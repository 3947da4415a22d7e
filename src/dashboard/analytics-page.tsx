/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { z } from "zod";
import { ANALYTICS_LIMITS, conditionsOf, Filters, Key } from "../analytics/filters";
import { countConversations, type Group, type GroupBy, listMetadataKeys, NO_OUTCOME, type NumericOp } from "../analytics/storage";
import { type Chatbot, listTeamChatbots } from "../chatbots/storage";
import { ID_PATTERN } from "../shared/ids";
import type { DashboardEnv } from "./auth";
import { type ChartRow, formatCount, formatShare, outcomeSeries, StackedBarChart } from "./charts";
import { Layout, notFoundPage, PAGE_HEADERS, Section, Value } from "./layout";

/**
 * /dashboard/analytics: the four analyses of Octocom's custom data (filter by a metadata
 * value, segment by source, aggregate by store or locale, correlate cart value with
 * outcomes) over the analytics engine (src/analytics/storage.ts), as a chart and a table.
 * A GET form, so it works without script and every analysis is a link; a read.
 */
export const analyticsPages = new Hono<DashboardEnv>();

export const OPERATORS = ["eq", "neq", "in", "contains", "exists", "missing", "gt", "gte", "lt", "lte"] as const;
type Op = (typeof OPERATORS)[number];
const OP_LABELS: Record<Op, string> = {
  eq: "equals (eq)",
  neq: "is not (neq)",
  in: "is one of (in)",
  contains: "contains",
  exists: "is set (exists)",
  missing: "is not set (missing)",
  gt: "> (gt)",
  gte: "≥ (gte)",
  lt: "< (lt)",
  lte: "≤ (lte)",
};
const NUMERIC: ReadonlySet<string> = new Set(["gt", "gte", "lt", "lte"]);
const NO_VALUE: ReadonlySet<string> = new Set(["exists", "missing"]);
const SPECIAL_GROUPS = ["outcome", "status", "day"];

/** The chart shows this many groups (the largest); the rest are one bar, and each is in the table. */
export const CHART_GROUPS_MAX = 20;
/** Ordered groups (buckets, days) are charted in order, this many at most. */
const CHART_ORDERED_MAX = 60;
/** The table lists this many groups; the note under it counts the rest. */
export const TABLE_GROUPS_MAX = 200;

/** A number as the engine reads one: JSON's syntax (10, -1.5, 1e3; not 1,000, .5 or 01). */
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function parseNumber(text: string): number | null {
  const trimmed = text.trim();
  if (!NUMBER.test(trimmed)) return null;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : null;
}

/** The page's query, as text: echoed into the form whatever it holds. */
type FormState = {
  chatbotId: string;
  from: string;
  to: string;
  rows: { key: string; op: string; value: string }[];
  groupBy: string;
  buckets: string;
  scale: string;
};

type Problem = { field: string; message: string };
type FilterInput = z.input<typeof Filters>[number];

type Analysis = {
  filters: z.output<typeof Filters>;
  groupBy: GroupBy | undefined;
  groupKey: string | undefined;
  buckets: number[] | undefined;
  from: string | undefined;
  to: string | undefined;
  /** The dates as the form gave them (To inclusive), for the summary. */
  fromDay: string;
  toDay: string;
  scale: "count" | "share";
};

// Echoed into the form as given, cut at a length past every limit (so "too long" is still said).
const Text = z
  .string()
  .catch("")
  .transform((text) => text.slice(0, 10_000));

function formState(query: Record<string, string[]>): FormState {
  const first = (name: string) => Text.parse(query[name]?.[0] ?? "");
  const keys = query.key ?? [];
  const ops = query.op ?? [];
  const values = query.value ?? [];
  const rows: FormState["rows"] = [];
  const count = Math.min(Math.max(keys.length, ops.length, values.length), 100);
  // One past the limit is kept, so the page can say there are too many.
  for (let i = 0; i < count && rows.length <= ANALYTICS_LIMITS.filters; i++) {
    const row = { key: Text.parse(keys[i] ?? ""), op: Text.parse(ops[i] ?? "eq"), value: Text.parse(values[i] ?? "") };
    // An empty row (the form's spare one, or one cleared) is no filter.
    if (row.key.trim() !== "" || row.value !== "") rows.push(row);
  }
  return {
    chatbotId: first("chatbot_id"),
    from: first("from").trim(),
    to: first("to").trim(),
    rows,
    groupBy: first("group_by").trim(),
    buckets: first("buckets"),
    scale: first("scale"),
  };
}

/** A calendar date (YYYY-MM-DD, a real day) as midnight UTC, else null. */
function dayStart(text: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const date = new Date(`${text}T00:00:00.000Z`);
  return Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== text ? null : date;
}

/** One filter row as a filter, or null (its problem added; an empty row is no filter). */
function filterOf(row: FormState["rows"][number], label: string, i: number, problems: Problem[]): FilterInput | null {
  const key = row.key.trim();
  if (!key) {
    if (row.value !== "") problems.push({ field: `a-key-${i}`, message: `${label}: enter a key, or clear the value.` });
    return null;
  }
  if (!(OPERATORS as readonly string[]).includes(row.op)) {
    problems.push({ field: `a-op-${i}`, message: `${label}: choose an operator.` });
    return null;
  }
  const op = row.op as Op;
  if (NUMERIC.has(op)) {
    if (key === "outcome" || key === "status") {
      problems.push({ field: `a-op-${i}`, message: `${label}: ${op} compares numbers, which only metadata keys hold.` });
      return null;
    }
    const n = parseNumber(row.value);
    if (n === null) {
      problems.push({ field: `a-value-${i}`, message: `${label}: ${op} needs a number, such as 100 or 49.99.` });
      return null;
    }
    return { key, op: op as NumericOp, value: n };
  }
  if (NO_VALUE.has(op)) return { key, op: op as "exists" | "missing" };
  if (op === "in") {
    const list = row.value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
    if (list.length === 0) {
      problems.push({ field: `a-value-${i}`, message: `${label}: in needs one or more values, separated by commas.` });
      return null;
    }
    return { key, op: "in", value: list };
  }
  return { key, op: op as "eq" | "neq" | "contains", value: row.value };
}

/** The form's text as an analysis, or the problems to show next to the fields. */
function parseAnalysis(form: FormState): { analysis: Analysis | null; problems: Problem[] } {
  const problems: Problem[] = [];
  let from: string | undefined;
  let to: string | undefined;
  if (form.from) {
    const day = dayStart(form.from);
    if (day) from = day.toISOString();
    else problems.push({ field: "a-from", message: "From: enter a date as YYYY-MM-DD." });
  }
  if (form.to) {
    const day = dayStart(form.to);
    // "To" includes its whole day: the engine's bound is exclusive.
    if (day) to = new Date(day.getTime() + 86_400_000).toISOString();
    else problems.push({ field: "a-to", message: "To: enter a date as YYYY-MM-DD." });
  }
  if (from && to && from >= to) problems.push({ field: "a-to", message: "To: must be on or after From." });

  const filters: z.output<typeof Filters> = [];
  if (form.rows.length > ANALYTICS_LIMITS.filters)
    problems.push({ field: "a-key-0", message: `Filters: at most ${ANALYTICS_LIMITS.filters} at once.` });
  form.rows.forEach((row, i) => {
    if (i >= ANALYTICS_LIMITS.filters) return;
    const filter = filterOf(row, `Filter ${i + 1}`, i, problems);
    if (!filter) return;
    // The engine's own limits (key and value lengths, list sizes), as the API checks them.
    const checked = Filters.safeParse([filter]);
    if (checked.success) filters.push(...checked.data);
    else {
      const onKey = checked.error.issues.some((issue) => issue.path[1] === "key");
      problems.push(
        onKey
          ? { field: `a-key-${i}`, message: `Filter ${i + 1}: a key has at most 512 characters.` }
          : {
              field: `a-value-${i}`,
              message: `Filter ${i + 1}: a value has at most 8,192 characters, and in takes at most ${ANALYTICS_LIMITS.inValues} values.`,
            },
      );
    }
  });

  let groupBy: GroupBy | undefined;
  let groupKey: string | undefined;
  let buckets: number[] | undefined;
  if (form.groupBy) {
    if (!Key.safeParse(form.groupBy).success) problems.push({ field: "a-group", message: "Group by: a key has at most 512 characters." });
    else groupKey = form.groupBy;
  }
  if (form.buckets.trim()) {
    const parts = form.buckets.split(",").map((part) => part.trim());
    const edges = parts.map(parseNumber);
    if (edges.some((edge) => edge === null))
      problems.push({ field: "a-buckets", message: "Buckets: enter numbers separated by commas, such as 50, 100, 200." });
    else if (edges.length > ANALYTICS_LIMITS.buckets)
      problems.push({ field: "a-buckets", message: `Buckets: at most ${ANALYTICS_LIMITS.buckets} edges.` });
    else if (!edges.every((edge, i) => i === 0 || edge! > edges[i - 1]!))
      problems.push({ field: "a-buckets", message: "Buckets: each edge must be larger than the one before." });
    else if (!groupKey || SPECIAL_GROUPS.includes(groupKey))
      problems.push({ field: "a-buckets", message: "Buckets: group by a metadata key with numbers, such as chat-widget:cart_value." });
    else buckets = edges as number[];
  }
  if (groupKey === "outcome" || groupKey === "status" || groupKey === "day") groupBy = groupKey;
  else if (groupKey) groupBy = { key: groupKey, buckets };
  const scale = form.scale === "share" || form.scale === "count" ? form.scale : buckets ? "share" : "count";
  if (problems.length > 0) return { analysis: null, problems };
  return { analysis: { filters, groupBy, groupKey, buckets, from, to, fromDay: form.from, toDay: form.to, scale }, problems };
}

// ---- presets ---------------------------------------------------------------------

type Preset = {
  id: string;
  label: string;
  what: string;
  /** Candidate keys, best first: the first the chatbot has is used, else the first. */
  keys: string[];
  params: (key: string) => [string, string][];
};

/** Octocom's four analyses, each a link that fills the form. */
const PRESETS: Preset[] = [
  {
    id: "plan",
    label: "Enterprise plan",
    what: "Filter",
    keys: ["chat-widget:plan"],
    params: (key) => [
      ["key", key],
      ["op", "eq"],
      ["value", "enterprise"],
    ],
  },
  {
    id: "source",
    label: "By UTM source",
    what: "Segment",
    keys: ["chat-widget:utm_source"],
    params: (key) => [["group_by", key]],
  },
  {
    id: "campaign",
    label: "By UTM campaign",
    what: "Segment",
    keys: ["chat-widget:utm_campaign"],
    params: (key) => [["group_by", key]],
  },
  {
    id: "store",
    label: "By store",
    what: "Aggregate",
    keys: ["chat-widget:store_id", "chat-widget:store"],
    params: (key) => [["group_by", key]],
  },
  {
    id: "locale",
    label: "By locale",
    what: "Aggregate",
    keys: ["chat-widget:locale"],
    params: (key) => [["group_by", key]],
  },
  {
    id: "cart",
    label: "Cart value vs outcome",
    what: "Correlate",
    keys: ["chat-widget:cart_value"],
    params: (key) => [
      ["group_by", key],
      ["buckets", "50, 100, 200"],
      ["scale", "share"],
    ],
  },
];

function presetHref(preset: Preset, known: Set<string>, chatbotId: string, form: FormState): { href: string; params: [string, string][] } {
  const key = preset.keys.find((candidate) => known.has(candidate)) ?? preset.keys[0]!;
  const params = preset.params(key);
  const search = new URLSearchParams([["chatbot_id", chatbotId]]);
  if (form.from) search.set("from", form.from);
  if (form.to) search.set("to", form.to);
  for (const [name, value] of params) search.append(name, value);
  return { href: `/dashboard/analytics?${search}`, params };
}

/** Whether the form holds exactly this preset's settings (its link is then the current one). */
function isCurrent(params: [string, string][], form: FormState): boolean {
  const rows = form.rows.filter((row) => row.key.trim() !== "");
  const want = new Map(params);
  const rowWanted = want.has("key") ? [{ key: want.get("key")!, op: want.get("op")!, value: want.get("value")! }] : [];
  return (
    rows.length === rowWanted.length &&
    rows.every((row, i) => row.key.trim() === rowWanted[i]!.key && row.op === rowWanted[i]!.op && row.value === rowWanted[i]!.value) &&
    form.groupBy === (want.get("group_by") ?? "") &&
    form.buckets.replace(/\s/g, "") === (want.get("buckets") ?? "").replace(/\s/g, "")
  );
}

// ---- the page ----------------------------------------------------------------------

analyticsPages.get("/", async (c) => {
  const viewer = c.var.viewer;
  const form = formState(c.req.queries());
  const chatbots = await listTeamChatbots(c.env.DB, viewer.teamId);
  if (form.chatbotId && !(ID_PATTERN.test(form.chatbotId) && chatbots.some((bot) => bot.id === form.chatbotId)))
    return notFoundPage(c, { thing: "Chatbot", current: "analytics", back: { href: "/dashboard/analytics", label: "Analytics" } });
  const chatbot = chatbots.find((bot) => bot.id === form.chatbotId) ?? chatbots[0];
  if (!chatbot) {
    return c.html(
      <Layout title="Analytics" current="analytics" viewer={viewer}>
        <h1>Analytics</h1>
        <p>
          This team has no chatbot yet. <a href="/dashboard/chatbots">Create one</a>, and its conversations show up here.
        </p>
      </Layout>,
      200,
      PAGE_HEADERS,
    );
  }
  const { analysis, problems } = parseAnalysis(form);
  const [keys, result] = await Promise.all([
    listMetadataKeys(c.env.DB, chatbot.id),
    analysis
      ? countConversations(c.env.DB, {
          chatbotId: chatbot.id,
          conditions: conditionsOf(analysis.filters),
          groupBy: analysis.groupBy,
          from: analysis.from,
          to: analysis.to,
        })
      : Promise.resolve(null),
  ]);
  return c.html(
    <Layout title="Analytics" current="analytics" viewer={viewer}>
      <h1>Analytics</h1>
      <p class="help">
        Filter, segment and aggregate a chatbot's conversations by their metadata, and compare outcomes across groups. Metadata reaches
        these figures within about 30 seconds of a change.
      </p>
      <Presets chatbot={chatbot} keys={keys} form={form} />
      <AnalysisForm chatbots={chatbots} chatbot={chatbot} keys={keys} form={form} problems={problems} />
      {analysis && result ? <Results chatbot={chatbot} analysis={analysis} result={result} /> : null}
    </Layout>,
    problems.length > 0 ? 400 : 200,
    PAGE_HEADERS,
  );
});

function Presets({ chatbot, keys, form }: { chatbot: Chatbot; keys: string[]; form: FormState }) {
  const known = new Set(keys);
  return (
    <nav class="presets" aria-label="Analyses">
      <h2 class="presets-heading">Analyses</h2>
      <ul>
        {PRESETS.map((preset) => {
          const { href, params } = presetHref(preset, known, chatbot.id, form);
          return (
            <li>
              <a href={href} aria-current={isCurrent(params, form) ? "true" : undefined} data-preset={preset.id}>
                <span class="preset-what">{preset.what}</span> {preset.label}
              </a>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

/** A field's aria attributes: described by its help, and where it has a problem, invalid and described by that first. */
function described(problems: Problem[], field: string, help?: string) {
  const index = problems.findIndex((problem) => problem.field === field);
  const ids = [index < 0 ? null : `problem-${index}`, help].filter(Boolean).join(" ");
  return { "aria-invalid": index < 0 ? undefined : "true", "aria-describedby": ids || undefined };
}

function AnalysisForm({
  chatbots,
  chatbot,
  keys,
  form,
  problems,
}: {
  chatbots: Chatbot[];
  chatbot: Chatbot;
  keys: string[];
  form: FormState;
  problems: Problem[];
}) {
  // The filters in query order (problems name rows by that index), then an empty row to add one.
  const rowsShown = form.rows.slice(0, ANALYTICS_LIMITS.filters);
  if (rowsShown.length < ANALYTICS_LIMITS.filters) rowsShown.push({ key: "", op: "eq", value: "" });
  return (
    <form method="get" action="/dashboard/analytics" class="analytics-form" aria-label="Analysis">
      {problems.length > 0 ? (
        <div class="notice problems" role="alert">
          <p class="error">This analysis cannot run yet:</p>
          <ul>
            {problems.map((problem, index) => (
              <li id={`problem-${index}`}>
                <a href={`#${problem.field}`}>
                  <Value>{problem.message}</Value>
                </a>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <datalist id="filter-keys">
        <option value="outcome" />
        <option value="status" />
        {keys.map((key) => (
          <option value={key} />
        ))}
      </datalist>
      <datalist id="group-keys">
        <option value="outcome" />
        <option value="status" />
        <option value="day" />
        {keys.map((key) => (
          <option value={key} />
        ))}
      </datalist>
      <div class="filters">
        <div>
          <label for="a-chatbot">Chatbot</label>
          <select id="a-chatbot" name="chatbot_id">
            {chatbots.map((bot) => (
              <option value={bot.id} selected={bot.id === chatbot.id}>
                {bot.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="a-from">From</label>
          <input id="a-from" name="from" type="date" value={form.from} {...described(problems, "a-from")} />
        </div>
        <div>
          <label for="a-to">To</label>
          <input id="a-to" name="to" type="date" value={form.to} {...described(problems, "a-to", "a-dates-help")} />
        </div>
        <p id="a-dates-help" class="help dates-help">
          UTC days when the conversation started; To includes its whole day.
        </p>
      </div>
      <fieldset class="filter-rows">
        <legend>Filters (every one must hold)</legend>
        {rowsShown.map((row, i) => (
          <div class="filter-row">
            <div>
              <label for={`a-key-${i}`}>Key</label>
              <input
                id={`a-key-${i}`}
                name="key"
                value={row.key}
                list="filter-keys"
                placeholder="chat-widget:plan"
                dir="auto"
                spellcheck={false}
                autocomplete="off"
                {...described(problems, `a-key-${i}`)}
              />
            </div>
            <div>
              <label for={`a-op-${i}`}>Operator</label>
              <select id={`a-op-${i}`} name="op" {...described(problems, `a-op-${i}`)}>
                {OPERATORS.map((op) => (
                  <option value={op} selected={op === row.op}>
                    {OP_LABELS[op]}
                  </option>
                ))}
              </select>
            </div>
            <div class="grow">
              <label for={`a-value-${i}`}>Value</label>
              <input
                id={`a-value-${i}`}
                name="value"
                value={row.value}
                placeholder="enterprise"
                dir="auto"
                spellcheck={false}
                autocomplete="off"
                {...described(problems, `a-value-${i}`)}
              />
            </div>
          </div>
        ))}
        <p class="help">
          A key is a metadata key (<code>chat-widget:plan</code>), <code>outcome</code> or <code>status</code>. <code>in</code> takes values
          separated by commas; <code>exists</code> and <code>missing</code> take none; <code>gt</code> to <code>lte</code> compare numbers.
          Run the analysis to get one more row.
        </p>
      </fieldset>
      <fieldset class="group-rows">
        <legend>Groups</legend>
        <div class="filter-row">
          <div class="grow">
            <label for="a-group">Group by</label>
            <input
              id="a-group"
              name="group_by"
              value={form.groupBy}
              list="group-keys"
              placeholder="chat-widget:utm_source"
              dir="auto"
              spellcheck={false}
              autocomplete="off"
              {...described(problems, "a-group", "a-group-help")}
            />
          </div>
          <div>
            <label for="a-buckets">Buckets</label>
            <input
              id="a-buckets"
              name="buckets"
              value={form.buckets}
              placeholder="50, 100, 200"
              inputmode="decimal"
              spellcheck={false}
              autocomplete="off"
              {...described(problems, "a-buckets", "a-buckets-help")}
            />
          </div>
          <div>
            <label for="a-scale">Bars</label>
            <select id="a-scale" name="scale">
              <option value="" selected={form.scale !== "count" && form.scale !== "share"}>
                Automatic
              </option>
              <option value="count" selected={form.scale === "count"}>
                Conversations
              </option>
              <option value="share" selected={form.scale === "share"}>
                Share by outcome
              </option>
            </select>
          </div>
        </div>
        <p id="a-group-help" class="help">
          A metadata key (one group per value), <code>outcome</code>, <code>status</code> or <code>day</code>; empty for one group of every
          match.
        </p>
        <p id="a-buckets-help" class="help">
          Optional, for a key holding numbers: ascending edges separated by commas make the groups &lt;50, 50-100, 100-200, ≥200 and other.
        </p>
      </fieldset>
      <button type="submit" class="primary">
        Run analysis
      </button>
    </form>
  );
}

// ---- results -------------------------------------------------------------------------

/** What a group's label says: a value a person set, or one of the page's words. */
function rowOf(group: Group, analysis: Analysis): ChartRow {
  const base = { conversations: group.conversations, outcomes: group.outcomes };
  if (!analysis.groupBy) return { ...base, label: "All matching conversations", kind: "all" };
  if (group.value === null) return { ...base, label: analysis.groupBy === "outcome" ? "(no outcome)" : "(no value)", kind: "none" };
  if (analysis.buckets && group.value === "other") return { ...base, label: "other (missing or not a number)", kind: "other" };
  return { ...base, label: group.value, kind: "value" };
}

/** The chart's rows: the largest groups, the rest summed in one bar; ordered groups keep their order. */
function chartRows(rows: ChartRow[], ordered: boolean): { shown: ChartRow[]; rest: number } {
  if (ordered)
    return rows.length > CHART_ORDERED_MAX
      ? { shown: rows.slice(-CHART_ORDERED_MAX), rest: rows.length - CHART_ORDERED_MAX }
      : { shown: rows, rest: 0 };
  if (rows.length <= CHART_GROUPS_MAX) return { shown: rows, rest: 0 };
  const kept = rows.slice(0, CHART_GROUPS_MAX - 1);
  const others = rows.slice(CHART_GROUPS_MAX - 1);
  const outcomes: Record<string, number> = {};
  for (const row of others) for (const [key, n] of Object.entries(row.outcomes)) outcomes[key] = (outcomes[key] ?? 0) + n;
  const conversations = others.reduce((sum, row) => sum + row.conversations, 0);
  return {
    shown: [...kept, { label: `${formatCount(others.length)} other groups`, kind: "rest", conversations, outcomes }],
    rest: others.length,
  };
}

const OP_WORDS: Record<Op, string> = {
  eq: "is",
  neq: "is not",
  in: "is one of",
  contains: "contains",
  exists: "is set",
  missing: "is not set",
  gt: ">",
  gte: "≥",
  lt: "<",
  lte: "≤",
};

function datesText(from: string, to: string): string {
  if (from && to) return from === to ? `on ${from}` : `${from} to ${to}`;
  return from ? `on or after ${from}` : `on or before ${to}`;
}

function filterText(filter: FilterInput): string {
  const value = "value" in filter ? (Array.isArray(filter.value) ? filter.value.join(", ") : String(filter.value)) : "";
  return value === "" && NO_VALUE.has(filter.op) ? "" : value;
}

/**
 * The conversation list with the same conversations, where its filters can say so: no
 * filter, or one metadata key equal to a value or set (the list's metadata_key/metadata_value).
 */
function listHref(chatbotId: string, filters: FilterInput[]): string | null {
  const search = new URLSearchParams([["chatbot_id", chatbotId]]);
  if (filters.length > 1) return null;
  const [filter] = filters;
  if (filter) {
    if (filter.key === "outcome" || filter.key === "status") return null;
    if (filter.op === "eq" && filter.value !== "") {
      search.set("metadata_key", filter.key);
      search.set("metadata_value", filter.value);
    } else if (filter.op === "exists") search.set("metadata_key", filter.key);
    else return null;
  }
  return `/dashboard/conversations?${search}`;
}

function groupListHref(chatbotId: string, key: string, value: string): string {
  return `/dashboard/conversations?${new URLSearchParams([
    ["chatbot_id", chatbotId],
    ["metadata_key", key],
    ["metadata_value", value],
  ])}`;
}

function Results({ chatbot, analysis, result }: { chatbot: Chatbot; analysis: Analysis; result: { total: number; groups: Group[] } }) {
  const rows = result.groups.map((group) => rowOf(group, analysis));
  const ordered = analysis.buckets !== undefined || analysis.groupBy === "day";
  const chart = chartRows(rows, ordered);
  const series = outcomeSeries(chart.shown, NO_OUTCOME);
  const columns = outcomeSeries(rows, NO_OUTCOME, Number.POSITIVE_INFINITY);
  const tableRows = rows.slice(0, TABLE_GROUPS_MAX);
  const hidden = rows.slice(TABLE_GROUPS_MAX);
  const list = analysis.from || analysis.to ? null : listHref(chatbot.id, analysis.filters);
  const groupKey = analysis.groupKey;
  const linkGroups =
    analysis.filters.length === 0 && !analysis.from && !analysis.to && typeof analysis.groupBy === "object" && !analysis.buckets;
  const chartTitle = groupKey ? `Conversations by ${groupKey} and outcome` : "Conversations by outcome";
  return (
    <Section id="results" title="Results">
      <div class="result-summary">
        <p class="total" data-total={result.total}>
          <strong>{formatCount(result.total)}</strong> {result.total === 1 ? "conversation" : "conversations"} of{" "}
          <Value>{chatbot.name}</Value> match
          {analysis.fromDay || analysis.toDay ? ` (started ${datesText(analysis.fromDay, analysis.toDay)}, UTC)` : null}.
        </p>
        {analysis.filters.length > 0 ? (
          <ul class="applied" aria-label="Filters applied">
            {analysis.filters.map((filter) => (
              <li>
                <code>
                  <Value>{filter.key}</Value>
                </code>{" "}
                {OP_WORDS[filter.op as Op]}{" "}
                {filterText(filter) !== "" ? (
                  <code>
                    <Value>{filterText(filter)}</Value>
                  </code>
                ) : null}
              </li>
            ))}
          </ul>
        ) : null}
        {list ? (
          <p>
            <a href={list} class="to-list">
              View these conversations
            </a>
          </p>
        ) : (
          <p class="help">
            The conversation list filters by one metadata key and value, without dates; open it with a single <code>equals</code> or{" "}
            <code>is set</code> filter and no dates to see these conversations.
          </p>
        )}
      </div>
      {result.total === 0 ? (
        <p class="empty">No conversations match. Try fewer filters or wider dates.</p>
      ) : (
        <>
          <Section id="chart" title="Chart" level={3}>
            <p class="chart-caption">
              {groupKey ? (
                <>
                  One bar per {analysis.buckets ? "bucket" : "value"} of{" "}
                  <code>
                    <Value>{groupKey}</Value>
                  </code>
                  ,
                </>
              ) : (
                "One bar for every matching conversation,"
              )}{" "}
              {analysis.scale === "share"
                ? "split by each outcome's share (every bar is 100%)."
                : "as long as its conversations, split by outcome."}
            </p>
            <StackedBarChart
              id="analysis-chart"
              title={chartTitle}
              description={`${chart.shown.length} bars, ${analysis.scale === "share" ? "each split by the share" : "each as long as its conversations, split by the count"} of each outcome. The table below lists every figure.`}
              rows={chart.shown}
              series={series}
              scale={analysis.scale}
            />
            {chart.rest > 0 ? (
              <p class="help chart-note">
                {ordered
                  ? `The chart shows the last ${CHART_ORDERED_MAX} groups; the table lists ${formatCount(rows.length)}.`
                  : `The chart shows the ${CHART_GROUPS_MAX - 1} largest groups and sums the other ${formatCount(chart.rest)} in one bar; the table lists each.`}
              </p>
            ) : null}
          </Section>
          <Section id="table" title="Table" level={3}>
            <section class="table-scroll" aria-labelledby="analysis-table-caption" tabindex={0}>
              <table class="analytics">
                <caption id="analysis-table-caption">{chartTitle}: count and share of each group's conversations</caption>
                <thead>
                  <tr>
                    <th scope="col">{groupKey ? <Value>{groupKey}</Value> : "Group"}</th>
                    <th scope="col" class="count">
                      Conversations
                    </th>
                    <th scope="col" class="count">
                      Share of all
                    </th>
                    {columns.map((column) => (
                      <th scope="col" class="count" data-outcome={column.key}>
                        <Value>{column.label}</Value>
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {tableRows.map((row) => (
                    <tr data-group={row.label} data-kind={row.kind}>
                      <th scope="row" class={row.kind === "value" ? undefined : "own"}>
                        {linkGroups && row.kind === "value" && row.label !== "" && typeof analysis.groupBy === "object" ? (
                          <a href={groupListHref(chatbot.id, analysis.groupBy.key, row.label)}>
                            <Value>{row.label}</Value>
                          </a>
                        ) : (
                          <Value>{row.label}</Value>
                        )}
                      </th>
                      <td class="count">{formatCount(row.conversations)}</td>
                      <td class="count">{formatShare(row.conversations, result.total)}</td>
                      {columns.map((column) => (
                        <Cell n={row.outcomes[column.key] ?? 0} of={row.conversations} />
                      ))}
                    </tr>
                  ))}
                </tbody>
                {rows.length > 1 ? (
                  <tfoot>
                    <tr>
                      <th scope="row">Total</th>
                      <td class="count">{formatCount(result.total)}</td>
                      <td class="count">{formatShare(result.total, result.total)}</td>
                      {columns.map((column) => (
                        <Cell n={rows.reduce((sum, row) => sum + (row.outcomes[column.key] ?? 0), 0)} of={result.total} />
                      ))}
                    </tr>
                  </tfoot>
                ) : null}
              </table>
            </section>
            {hidden.length > 0 ? (
              <p class="help">
                And {formatCount(hidden.length)} smaller groups ({formatCount(hidden.reduce((sum, row) => sum + row.conversations, 0))}{" "}
                conversations) not listed: add a filter to see them.
              </p>
            ) : null}
            <p class="help">Each outcome column gives the group's conversations with that outcome, and their share of the group.</p>
          </Section>
        </>
      )}
    </Section>
  );
}

/** An outcome's count in a group and its share of the group. */
function Cell({ n, of }: { n: number; of: number }) {
  return (
    <td class="count" data-count={n}>
      {formatCount(n)} <span class="rate">{formatShare(n, of)}</span>
    </td>
  );
}
