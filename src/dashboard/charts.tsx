/** @jsxImportSource hono/jsx */
/**
 * Server-rendered SVG charts for the analytics page: horizontal bars, one per group, each
 * stacked by outcome. No script draws them and no style attribute colours them (the CSP
 * forbids both): geometry and colour are SVG presentation attributes, lengths are
 * percentages of the chart's width, so bars follow the page's width while text keeps the
 * page's size. Values people set are text nodes (escaped by hono/jsx), each in its own
 * `<text>` isolated for bidi, so no value can reorder a number or another label.
 */
import { Value } from "./layout";

/** One outcome as the chart and its legend show it. */
export type Series = { key: string; label: string; color: string };

/** What a bar's label is: a value a person set, or a label of the page's own. */
export type RowKind = "value" | "none" | "other" | "all" | "rest";

export type ChartRow = { label: string; kind: RowKind; conversations: number; outcomes: Record<string, number> };

/**
 * Outcome colours, each at least 4.5:1 against white (the page) and under white text (the
 * counts inside a segment). The outcomes Octocom names keep their colour on every chart;
 * others take the rest in order. Colour is never the only cue: segments run in legend order,
 * carry their number where it fits, and the table holds every figure.
 */
const KNOWN_COLORS: Record<string, string> = {
  purchase: "#1a7f37",
  handoff: "#bc4c00",
  resolved: "#0a58ca",
  none: "#57606a",
};
const PALETTE = ["#8250df", "#bf3989", "#0f6f78", "#7d4e00", "#3b3fa8", "#a40e26"];
/** The chart's own bucket for outcomes past the palette (the table lists each). */
export const OTHER_OUTCOMES = "other outcomes";
const OTHER_OUTCOMES_COLOR = "#24292f";

/**
 * The outcomes of these groups in chart order: most conversations first, `none` last; past
 * `max` named ones, the rest share one "other outcomes" series (chart only).
 */
export function outcomeSeries(groups: { outcomes: Record<string, number> }[], none: string, max = PALETTE.length): Series[] {
  const totals = new Map<string, number>();
  for (const group of groups) for (const [key, n] of Object.entries(group.outcomes)) totals.set(key, (totals.get(key) ?? 0) + n);
  const named = [...totals.keys()].filter((key) => key !== none).sort((a, b) => totals.get(b)! - totals.get(a)! || (a < b ? -1 : 1));
  const shown = named.length > max + 1 ? named.slice(0, max) : named;
  let next = 0;
  const series: Series[] = shown.map((key) => ({ key, label: key, color: KNOWN_COLORS[key] ?? PALETTE[next++ % PALETTE.length]! }));
  if (shown.length < named.length) series.push({ key: OTHER_OUTCOMES, label: OTHER_OUTCOMES, color: OTHER_OUTCOMES_COLOR });
  if (totals.has(none)) series.push({ key: none, label: "no outcome", color: KNOWN_COLORS.none! });
  return series;
}

/** A group's count for one series ("other outcomes" sums the outcomes no series names). */
export function seriesCount(outcomes: Record<string, number>, series: Series, all: Series[]): number {
  if (series.key !== OTHER_OUTCOMES) return outcomes[series.key] ?? 0;
  const named = new Set(all.map((entry) => entry.key));
  return Object.entries(outcomes).reduce((sum, [key, n]) => (named.has(key) ? sum : sum + n), 0);
}

export const formatCount = (n: number): string => n.toLocaleString("en-US");

/** "42.9%", "100%", "0%"; an empty group has no share ("–"). */
export function formatShare(n: number, of: number): string {
  if (of === 0) return "–";
  const percent = Math.round((n / of) * 1000) / 10;
  return `${percent}%`;
}

/** The first `max` code points of a label, with "…" where it was cut. */
function shortLabel(label: string, max: number): string {
  const points = [...label];
  return points.length <= max ? label : `${points.slice(0, max - 1).join("")}…`;
}

const pct = (value: number): string => `${Math.round(value * 1000) / 1000}%`;

/** Label characters shown before "…": fits beside the count on a 320 px wide phone. */
const LABEL_MAX = 38;
/** The narrowest the chart is drawn (px): inner numbers are shown only where they fit at this width. */
const NARROWEST = 300;
const HEADER = 22;
const ROW = 48;
const BAR_Y = 20;
const BAR_HEIGHT = 20;

/**
 * A stacked horizontal bar chart. `scale: "count"` draws each bar by its conversations
 * against the largest group's; `"share"` draws every bar full width, split by outcome share
 * (correlation: compare rates across groups of different sizes).
 */
export function StackedBarChart({
  id,
  title,
  description,
  rows,
  series,
  scale,
}: {
  id: string;
  title: string;
  description: string;
  rows: ChartRow[];
  series: Series[];
  scale: "count" | "share";
}) {
  const largest = Math.max(1, ...rows.map((row) => row.conversations));
  const height = HEADER + rows.length * ROW;
  return (
    <div class="chart">
      <ul class="legend" aria-label="Outcomes, in bar order from left to right">
        {series.map((entry) => (
          <li class="legend-item">
            <svg class="swatch" width="14" height="14" viewBox="0 0 14 14" aria-hidden="true" focusable="false">
              <rect width="14" height="14" rx="3" fill={entry.color} />
            </svg>
            <Value>{entry.label}</Value>
          </li>
        ))}
      </ul>
      <svg
        class="bars"
        role="img"
        aria-labelledby={`${id}-title ${id}-desc`}
        width="100%"
        height={height}
        data-scale={scale}
        focusable="false"
      >
        <title id={`${id}-title`}>{title}</title>
        <desc id={`${id}-desc`}>{description}</desc>
        <text x="100%" y="14" text-anchor="end" class="chart-head">
          Conversations
        </text>
        {rows.map((row, index) => {
          const top = HEADER + index * ROW;
          const full = row.conversations === 0 ? 0 : scale === "share" ? 100 : (row.conversations / largest) * 100;
          let start = 0;
          return (
            <g class="bar" data-group={row.label} data-kind={row.kind}>
              <title>{`${row.label}: ${formatCount(row.conversations)}`}</title>
              <text
                x="0"
                y={top + 14}
                class={row.kind === "value" ? "group-label" : "group-label own"}
                direction="ltr"
                unicode-bidi="isolate"
              >
                {shortLabel(row.label, LABEL_MAX)}
              </text>
              <text x="100%" y={top + 14} text-anchor="end" class="group-count">
                {formatCount(row.conversations)}
              </text>
              <rect x="0" y={top + BAR_Y} width="100%" height={BAR_HEIGHT} rx="3" class="track" />
              {series.map((entry) => {
                const n = seriesCount(row.outcomes, entry, series);
                if (n === 0) return null;
                const width = (n / row.conversations) * full;
                const x = start;
                start += width;
                const inner = scale === "share" ? formatShare(n, row.conversations) : formatCount(n);
                const fits = (width / 100) * NARROWEST >= inner.length * 7.5 + 8;
                return (
                  <g class="segment" data-outcome={entry.key} data-count={n}>
                    <rect
                      x={pct(x)}
                      y={top + BAR_Y}
                      width={pct(width)}
                      height={BAR_HEIGHT}
                      fill={entry.color}
                      stroke="#fff"
                      stroke-width="1"
                    >
                      <title>{`${entry.label}: ${formatCount(n)} of ${formatCount(row.conversations)} (${formatShare(n, row.conversations)})`}</title>
                    </rect>
                    {fits ? (
                      <text x={pct(x + width / 2)} y={top + BAR_Y + 14.5} text-anchor="middle" class="segment-label" fill="#fff">
                        {inner}
                      </text>
                    ) : null}
                  </g>
                );
              })}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
