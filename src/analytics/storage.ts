/**
 * The analytics engine over the metadata projection (`metadata_keys`, `metadata_values`,
 * written by src/conversations/storage.ts) and the `conversations` index. SQL is built from
 * fixed fragments only: keys, values, edges and times are always bound parameters.
 */
import { type Cost, tallyD1 } from "../shared/cost";

/** What a condition reads: a metadata key, or the conversation's outcome or status. */
export type Field = { key: string } | "outcome" | "status";
export type TextOp = "eq" | "neq" | "contains";
export type NumericOp = "gt" | "gte" | "lt" | "lte";
export type Condition =
  | { field: Field; op: TextOp; value: string }
  | { field: Field; op: "in"; value: string[] }
  | { field: Field; op: "exists" | "missing" }
  | { field: { key: string }; op: NumericOp; value: number };

export type GroupBy = { key: string; buckets?: number[] } | "outcome" | "status" | "day";

export type AnalyticsQuery = {
  chatbotId: string;
  conditions: Condition[];
  groupBy?: GroupBy;
  /** Inclusive lower and exclusive upper bound of `started_at`, as ISO strings in UTC. */
  from?: string;
  to?: string;
};

export type Group = { value: string | null; conversations: number; outcomes: Record<string, number> };

/** The outcome label counted for conversations that have none. */
export const NO_OUTCOME = "none";
/** The most groups answered; the largest ones are kept. */
export const GROUPS_MAX = 1000;

const COMPARE: Record<NumericOp, string> = { gt: ">", gte: ">=", lt: "<", lte: "<=" };

type Sql = { sql: string; params: unknown[] };

/** The id of a key of the chatbot `chatbot` names (a bound id or a column): NULL where unknown, so nothing matches. */
function keyId(key: string, chatbot: Sql): Sql {
  return { sql: `(SELECT id FROM metadata_keys WHERE chatbot_id = ${chatbot.sql} AND key = ?)`, params: [...chatbot.params, key] };
}

/** The test of one value column (`value` text, `num` its number or NULL) for a condition; true for exists. */
function valueTest(condition: Condition, value: string, num: string): Sql {
  switch (condition.op) {
    case "eq":
      return { sql: `${value} = ?`, params: [condition.value] };
    case "neq":
      return { sql: `${value} <> ?`, params: [condition.value] };
    case "contains":
      return { sql: `instr(${value}, ?) > 0`, params: [condition.value] };
    case "in":
      return { sql: `${value} IN (SELECT value FROM json_each(?))`, params: [JSON.stringify(condition.value)] };
    case "exists":
    case "missing":
      return { sql: "1", params: [] };
    default:
      return { sql: `${num} ${COMPARE[condition.op]} ?`, params: [condition.value] };
  }
}

/** A condition on the conversation `c`: an outcome or status test, or a probe of one metadata row by primary key. */
function conditionSql(condition: Condition, chatbot: Sql): Sql {
  if (typeof condition.field === "string") {
    const column = `c.${condition.field}`;
    if (condition.op === "exists") return { sql: `${column} IS NOT NULL`, params: [] };
    if (condition.op === "missing") return { sql: `${column} IS NULL`, params: [] };
    return valueTest(condition, column, "NULL");
  }
  const id = keyId(condition.field.key, chatbot);
  const test = valueTest(condition, "f.value", "f.num");
  const probe = `SELECT 1 FROM metadata_values f WHERE f.key_id = ${id.sql} AND f.conv = c.seq AND ${test.sql}`;
  return { sql: condition.op === "missing" ? `NOT EXISTS (${probe})` : `EXISTS (${probe})`, params: [...id.params, ...test.params] };
}

/** WHERE terms on `conversations c` for every condition (all must hold). */
export function filterConditions(conditions: Condition[], chatbot: Sql): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  for (const condition of conditions) {
    const sql = conditionSql(condition, chatbot);
    where.push(sql.sql);
    params.push(...sql.params);
  }
  return { where, params };
}

/** The most keys listed: a chatbot holds at most a few hundred in practice (200 per conversation). */
export const KEYS_LISTED_MAX = 500;

/**
 * The chatbot's known metadata key names, sorted by code unit; at most `limit`. A key stays
 * known after its last value is deleted, so this can name a key no conversation holds now.
 * One indexed range read (the `(chatbot_id, key)` unique index).
 */
export async function listMetadataKeys(db: D1Database, chatbotId: string, limit = KEYS_LISTED_MAX): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT key FROM metadata_keys WHERE chatbot_id = ? ORDER BY key LIMIT ?")
    .bind(chatbotId, limit)
    .all<{ key: string }>();
  return results.map((row) => row.key);
}

/** How well an index of `metadata_values` lists a condition's matches: lower is better, 9 not at all. */
function driverRank(condition: Condition): number {
  return typeof condition.field === "string"
    ? 9
    : ({ eq: 0, in: 1, gt: 2, gte: 2, lt: 2, lte: 2, exists: 3, contains: 4, neq: 9, missing: 9 } as const)[condition.op];
}

/**
 * The tables of a query driven by a Driver: its matches in `metadata_values d`, each probing
 * its conversation `c` by seq. Pinned: given a second index that starts with chatbot_id,
 * SQLite (without statistics) would scan the chatbot's index once per match.
 */
export const DRIVEN_FROM = "metadata_values d CROSS JOIN conversations c INDEXED BY conversations_by_seq ON c.seq = d.conv";

/** A condition read first from a key's index, as terms on `metadata_values d` (see DRIVEN_FROM); the others remain. */
export type Driver = { where: string[]; params: unknown[]; rank: number; rest: Condition[] };

/** The best condition to read first (one whose matches an index of `metadata_values` lists), or null. */
export function drivingCondition(conditions: Condition[], chatbot: Sql): Driver | null {
  let best = -1;
  conditions.forEach((condition, index) => {
    if (driverRank(condition) < 9 && (best === -1 || driverRank(condition) < driverRank(conditions[best]!))) best = index;
  });
  if (best === -1) return null;
  const first = conditions[best] as Condition & { field: { key: string } };
  const id = keyId(first.field.key, chatbot);
  const test = valueTest(first, "d.value", "d.num");
  return {
    where: [`d.key_id = ${id.sql}`, test.sql],
    params: [...id.params, ...test.params],
    rank: driverRank(first),
    rest: conditions.filter((_, index) => index !== best),
  };
}

/** The labels of bucket edges, in answer order: "<lo", "lo-hi"..., ">=hi", "other". */
export function bucketLabels(edges: number[]): string[] {
  const labels = [`<${edges[0]}`];
  for (let i = 1; i < edges.length; i++) labels.push(`${edges[i - 1]}-${edges[i]}`);
  labels.push(`>=${edges.at(-1)}`, "other");
  return labels;
}

export type Answer = { total: number; groups: Group[] };

/** How a query is answered: "auto" picks; "rows" always reads conversation by conversation (tests compare the two). */
export type Plan = "auto" | "rows";

/**
 * Counts the chatbot's conversations that match, per group and outcome. A segment of the
 * whole chatbot by a key (no filters, whole-day bounds) reads that key's index alone; else an
 * equality or range condition on a key is read first from its index, so its cost follows its
 * matches, not the chatbot's size; without one the chatbot's conversations are read from a
 * covering index.
 */
export async function countConversations(db: D1Database, query: AnalyticsQuery, cost?: Cost, plan: Plan = "auto"): Promise<Answer> {
  if (plan === "auto" && query.conditions.length === 0 && query.groupBy && typeof query.groupBy === "object") {
    const days = dayRange(query);
    if (days) {
      const answer = await countSegments(db, query, query.groupBy, days, cost);
      if (answer) return answer;
    }
  }
  return countByRows(db, query, cost);
}

/** The conversations matching the query's conditions, counted one by one (see countConversations). */
async function countByRows(db: D1Database, query: AnalyticsQuery, cost?: Cost): Promise<Answer> {
  const chatbot = { sql: "?", params: [query.chatbotId] };
  const params: unknown[] = [];
  let conditions = query.conditions;
  let from: string;
  const where: string[] = [];
  const driver = drivingCondition(conditions, chatbot);
  if (driver) {
    from = DRIVEN_FROM;
    where.push(...driver.where);
    params.push(...driver.params);
    conditions = driver.rest;
  } else {
    from = "conversations c INDEXED BY conversations_for_analytics";
  }
  let group = "'all'";
  // Bound in text order: the group expression, then the joins, then WHERE.
  const selectParams: unknown[] = [];
  const joinParams: unknown[] = [];
  let bucketEdges: number[] | undefined;
  const groupBy = query.groupBy;
  if (groupBy === "outcome" || groupBy === "status") group = `c.${groupBy}`;
  else if (groupBy === "day") group = "substr(c.started_at, 1, 10)";
  else if (groupBy) {
    const id = keyId(groupBy.key, chatbot);
    from += ` LEFT JOIN metadata_values g ON g.key_id = ${id.sql} AND g.conv = c.seq`;
    joinParams.push(...id.params);
    if (groupBy.buckets) {
      bucketEdges = groupBy.buckets;
      // The bucket's index in bucketLabels: -1 is "other".
      group = `CASE WHEN g.num IS NULL THEN -1 ${bucketEdges.map((_, i) => `WHEN g.num < ? THEN ${i}`).join(" ")} ELSE ${bucketEdges.length} END`;
      selectParams.push(...bucketEdges);
    } else group = "g.value";
  }
  where.push("c.chatbot_id = ?");
  params.push(query.chatbotId);
  if (query.from) {
    where.push("c.started_at >= ?");
    params.push(query.from);
  }
  if (query.to) {
    where.push("c.started_at < ?");
    params.push(query.to);
  }
  const rest = filterConditions(conditions, chatbot);
  where.push(...rest.where);
  params.push(...rest.params);
  const answer = await db
    .prepare(
      `WITH counted AS MATERIALIZED (
         SELECT ${group} AS grp, c.outcome AS outcome, COUNT(*) AS n FROM ${from} WHERE ${where.join(" AND ")} GROUP BY 1, 2
       ),
       kept AS (SELECT grp FROM counted GROUP BY grp ORDER BY SUM(n) DESC, grp LIMIT ${GROUPS_MAX})
       SELECT counted.grp AS grp, counted.outcome AS outcome, counted.n AS n, (SELECT COALESCE(SUM(n), 0) FROM counted) AS total
       FROM counted JOIN kept ON kept.grp IS counted.grp`,
    )
    .bind(...selectParams, ...joinParams, ...params)
    .all<{ grp: string | number | null; outcome: string | null; n: number; total: number }>();
  tallyD1(cost, answer);
  const results = answer.results;
  const total = results[0]?.total ?? 0;
  const byValue = new Map<string | null, Group>();
  const labels = bucketEdges ? bucketLabels(bucketEdges) : undefined;
  if (labels) for (const label of labels) byValue.set(label, { value: label, conversations: 0, outcomes: {} });
  for (const row of results) {
    const value = labels ? labels.at(Number(row.grp))! : row.grp === null ? null : String(row.grp);
    let entry = byValue.get(value);
    if (!entry) {
      entry = { value, conversations: 0, outcomes: {} };
      byValue.set(value, entry);
    }
    entry.conversations += row.n;
    const outcome = row.outcome ?? NO_OUTCOME;
    entry.outcomes[outcome] = (entry.outcomes[outcome] ?? 0) + row.n;
  }
  if (!groupBy && byValue.size === 0) byValue.set("all", { value: "all", conversations: 0, outcomes: {} });
  const groups = [...byValue.values()];
  if (groupBy === "day") groups.sort((a, b) => (a.value! < b.value! ? -1 : 1));
  else if (!labels) sortBySize(groups);
  return { total, groups };
}

const byValueText = (a: Group, b: Group) => ((a.value ?? "") < (b.value ?? "") ? -1 : 1);

/** Largest first, ties by value; the group without the key (null) last. */
function sortBySize(groups: Group[]): void {
  groups.sort(
    (a, b) =>
      Number(a.value === null) - Number(b.value === null) ||
      b.conversations - a.conversations ||
      ((a.value ?? "") < (b.value ?? "") ? -1 : 1),
  );
}

const DAY_MS = 86_400_000;

/** The query's bounds as UTC day numbers (days since 1970-01-01), or null where one is not a midnight. */
function dayRange(query: AnalyticsQuery): { from?: number; to?: number } | null {
  const days: { from?: number; to?: number } = {};
  for (const bound of ["from", "to"] as const) {
    const text = query[bound];
    if (text === undefined) continue;
    const ms = Date.parse(text);
    if (ms % DAY_MS !== 0) return null;
    days[bound] = ms / DAY_MS;
  }
  return days;
}

/** At most this many outcome labels are counted per bucket in one pass; more go to countByRows. */
const BUCKET_OUTCOMES_MAX = 40;

/** Adds `n` conversations of `outcome` (null for none) to a group. */
function tally(group: Group, outcome: string | null, n: number): void {
  if (n === 0) return;
  group.conversations += n;
  const label = outcome ?? NO_OUTCOME;
  group.outcomes[label] = (group.outcomes[label] ?? 0) + n;
}

/** What remains of the per-outcome totals once the groups are taken away: the null or "other" group. */
function remainder(value: string | null, totals: { outcome: string | null; n: number }[], groups: Group[]): Group {
  const rest: Group = { value, conversations: 0, outcomes: {} };
  for (const { outcome, n } of totals) {
    const label = outcome ?? NO_OUTCOME;
    tally(rest, outcome, n - groups.reduce((sum, group) => sum + (group.outcomes[label] ?? 0), 0));
  }
  return rest;
}

/**
 * A segment of the whole chatbot (within whole days) by one key, read from that key's index
 * alone: each metadata row carries its conversation's day and outcome (migrations/0013), so
 * no conversation is read per row. The conversations without the key (or, with buckets, without
 * a number) are the chatbot's totals per outcome less the key's. Null where countByRows must answer.
 */
async function countSegments(
  db: D1Database,
  query: AnalyticsQuery,
  groupBy: { key: string; buckets?: number[] },
  days: { from?: number; to?: number },
  cost?: Cost,
): Promise<Answer | null> {
  const started = `${query.from ? "AND started_at >= ?" : ""} ${query.to ? "AND started_at < ?" : ""}`;
  const startedParams = [query.from, query.to].filter((bound) => bound !== undefined);
  const daySql = `${days.from !== undefined ? "AND v.day >= ?" : ""} ${days.to !== undefined ? "AND v.day < ?" : ""}`;
  const dayParams = [days.from, days.to].filter((day) => day !== undefined);
  const key = keyId(groupBy.key, { sql: "?", params: [query.chatbotId] });
  // The chatbot's conversations per outcome (in index order, no sort), with each label's id.
  const totalsStatement = db
    .prepare(
      `SELECT t.outcome AS outcome, o.id AS code, t.n AS n FROM (
         SELECT outcome, COUNT(*) AS n FROM conversations INDEXED BY conversations_for_analytics
         WHERE chatbot_id = ? ${started} GROUP BY outcome
       ) t LEFT JOIN outcome_labels o ON o.label = t.outcome`,
    )
    .bind(query.chatbotId, ...startedParams);
  type Total = { outcome: string | null; code: number | null; n: number };

  if (!groupBy.buckets) {
    // Grouped in the index's (value, outcome) order; the largest values kept; part 1 sums every value per outcome.
    const [totalsAnswer, valuesAnswer] = await db.batch<unknown>([
      totalsStatement,
      db
        .prepare(
          `WITH counted AS MATERIALIZED (
             SELECT v.value AS grp, v.outcome AS code, COUNT(*) AS n FROM metadata_values v INDEXED BY metadata_values_by_value
             WHERE v.key_id = ${key.sql} ${daySql} GROUP BY 1, 2
           ),
           kept AS (SELECT grp FROM counted GROUP BY grp ORDER BY SUM(n) DESC, grp LIMIT ${GROUPS_MAX})
           SELECT 0 AS part, counted.grp AS grp, o.label AS outcome, counted.n AS n
           FROM counted JOIN kept ON kept.grp = counted.grp LEFT JOIN outcome_labels o ON o.id = counted.code
           UNION ALL
           SELECT 1, NULL, o.label, SUM(counted.n) FROM counted LEFT JOIN outcome_labels o ON o.id = counted.code GROUP BY counted.code`,
        )
        .bind(...key.params, ...dayParams),
    ]);
    tallyD1(cost, totalsAnswer!);
    tallyD1(cost, valuesAnswer!);
    const totals = totalsAnswer!.results as Total[];
    const rows = valuesAnswer!.results as { part: number; grp: string | null; outcome: string | null; n: number }[];
    const byValue = new Map<string, Group>();
    for (const row of rows.filter((row) => row.part === 0)) {
      let group = byValue.get(row.grp!);
      if (!group) {
        group = { value: row.grp, conversations: 0, outcomes: {} };
        byValue.set(row.grp!, group);
      }
      tally(group, row.outcome, row.n);
    }
    const keyed: Group = { value: "", conversations: 0, outcomes: {} };
    for (const row of rows.filter((row) => row.part === 1)) tally(keyed, row.outcome, row.n);
    const missing = remainder(null, totals, [keyed]);
    // Kept as countByRows keeps them: the largest, ties by value, the null group first among its ties.
    let groups = [...(missing.conversations > 0 ? [missing] : []), ...[...byValue.values()].sort(byValueText)];
    if (groups.length > GROUPS_MAX) groups = groups.sort((a, b) => b.conversations - a.conversations).slice(0, GROUPS_MAX);
    sortBySize(groups);
    return { total: totals.reduce((sum, row) => sum + row.n, 0), groups };
  }

  const totalsAnswer = await totalsStatement.all<Total>();
  tallyD1(cost, totalsAnswer);
  const totals = totalsAnswer.results;
  const coded = totals.filter((row) => row.code !== null);
  if (coded.length > BUCKET_OUTCOMES_MAX) return null;
  // One range read of the key's numbers per bucket, outcomes counted by label id: no sort.
  const edges = groupBy.buckets;
  const ranges = [...edges.keys(), edges.length].map((i) => ({ lo: i > 0 ? edges[i - 1] : undefined, hi: edges[i] }));
  const counts = await db.batch<Record<string, number | null>>(
    ranges.map(({ lo, hi }) =>
      db
        .prepare(
          `SELECT COUNT(*) AS n ${coded.map((_, i) => `, SUM(v.outcome = ?) AS o${i}`).join("")}
           FROM metadata_values v INDEXED BY metadata_values_by_num
           WHERE v.key_id = ${key.sql} AND v.num IS NOT NULL ${lo !== undefined ? "AND v.num >= ?" : ""} ${hi !== undefined ? "AND v.num < ?" : ""} ${daySql}`,
        )
        .bind(...coded.map((row) => row.code), ...key.params, ...[lo, hi].filter((edge) => edge !== undefined), ...dayParams),
    ),
  );
  const labels = bucketLabels(edges);
  const groups = counts.map((answer, i) => {
    tallyD1(cost, answer);
    const row = answer.results[0]!;
    const group: Group = { value: labels[i]!, conversations: 0, outcomes: {} };
    let labelled = 0;
    coded.forEach((total, j) => {
      const n = row[`o${j}`] ?? 0;
      labelled += n;
      tally(group, total.outcome, n);
    });
    tally(group, null, (row.n ?? 0) - labelled);
    return group;
  });
  groups.push(remainder("other", totals, groups));
  return { total: totals.reduce((sum, row) => sum + row.n, 0), groups };
}
