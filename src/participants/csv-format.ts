/**
 * The participant CSV as text: reading the header and rows of an import, writing the
 * header and rows of an export. Cell encodings are in csv-cells.ts; no storage here.
 */
import Papa from "papaparse";
import { problem } from "../shared/problem";
import { decodeDataCell, encodeDataValue, protectCell, unprotectCell } from "./csv-cells";
import { Channel, Identifier, Name } from "./fields";
import type { JsonObject, JsonValue } from "./json-data";
import { CSV_IMPORT_MAX_ROWS } from "./limits";

// Excel reads UTF-8 only with a byte order mark; the importer strips it again.
const BOM = "\uFEFF";

// Reading 10,000 rows is tens of milliseconds of CPU: in slices, so the isolate's other
// requests are answered meanwhile.
export const YIELD_EVERY_ROWS = 1_000;

/**
 * Lets the isolate take other requests before going on. A timer, because awaiting a binding
 * is not enough where the binding answers within the same process (local D1): the event loop
 * never idles, so it never reads new requests until the import is done.
 */
export const yieldToOtherRequests = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** One data row of an import: its spreadsheet row number and what it asks to write. */
export type ImportRow = { row: number; channel: string; identifier: string; name: string | null; patch: [string, JsonValue][] };
export type RowError = { row: number; message: string };

type Header = { identifier: number; channel: number; name: number; data: [number, string][] };

/** Reads the header; 400 where it is not `identifier,channel[,name][,data.<key>...]`. */
function readHeader(cells: string[]): Header {
  // A spreadsheet saved with another separator (Excel uses `;` in many locales) reads as one cell.
  const separator = cells.length === 1 ? [";", "\t", "|"].find((candidate) => cells[0]!.includes(candidate)) : undefined;
  if (separator !== undefined) {
    throw problem(
      "invalid-csv",
      `The columns must be separated by commas; the header (row 1) seems to use ${JSON.stringify(separator)}. Save the file as comma-separated CSV.`,
    );
  }
  const columns = cells.map(unprotectCell);
  const seen = new Set<string>();
  const data: [number, string][] = [];
  let identifier = -1;
  let channel = -1;
  let name = -1;
  columns.forEach((column, index) => {
    if (seen.has(column)) throw problem("invalid-csv", `Column ${JSON.stringify(column)} appears twice in the header (row 1).`);
    seen.add(column);
    if (column === "identifier") identifier = index;
    else if (column === "channel") channel = index;
    else if (column === "name") name = index;
    else if (column.startsWith("data.") && column.length > 5) data.push([index, column.slice(5)]);
    else
      throw problem(
        "invalid-csv",
        `Unknown column ${JSON.stringify(column)} in the header (row 1): columns are identifier, channel, name and data.<key>.`,
      );
  });
  if (identifier < 0 || channel < 0) throw problem("invalid-csv", "The header (row 1) must name the columns identifier and channel.");
  return { identifier, channel, name, data };
}

/** Parses one record into an import row, or a message saying why it is bad. */
function readRow(cells: string[], header: Header, width: number, row: number): ImportRow | string {
  if (cells.length > width) return `The row has ${cells.length} cells; the header has ${width}.`;
  const cell = (index: number) => (index >= 0 ? (cells[index] ?? "") : "");
  const identifier = Identifier.safeParse(unprotectCell(cell(header.identifier)));
  if (!identifier.success) return `identifier ${identifier.error.issues[0]!.message}.`;
  const channel = Channel.safeParse(unprotectCell(cell(header.channel)));
  if (!channel.success) return `channel ${channel.error.issues[0]!.message}.`;
  let name: string | null = null;
  if (cell(header.name) !== "") {
    const parsed = Name.safeParse(unprotectCell(cell(header.name)));
    if (!parsed.success) return `name ${parsed.error.issues[0]!.message}.`;
    name = parsed.data;
  }
  const patch: [string, JsonValue][] = [];
  for (const [index, key] of header.data) {
    const value = decodeDataCell(cell(index));
    if (value !== undefined) patch.push([key, value]);
  }
  return { row, channel: channel.data, identifier: identifier.data, name, patch };
}

/**
 * Reads an import file: its rows in file order, and the rows that are bad with why.
 * Rows are numbered as a spreadsheet shows them: the header is row 1, and a cell with
 * line breaks keeps its record on one row. 400 where the file or header is unusable,
 * 413 where it holds too many rows.
 */
export async function readImportFile(file: string): Promise<{ rows: ImportRow[]; errors: RowError[] }> {
  const text = file.startsWith(BOM) ? file.slice(1) : file;
  // Comma always: left to guess, papaparse splits on `|`, `;` or tab where cells hold more of
  // those than the header has columns, and an export would not re-import as itself.
  const parsed = Papa.parse<string[]>(text, { header: false, skipEmptyLines: false, delimiter: "," });
  const records = parsed.data;
  // A trailing line break leaves one empty record at the end.
  while (records.length > 0 && records.at(-1)!.length === 1 && records.at(-1)![0] === "") records.pop();
  if (records.length === 0) throw problem("invalid-csv", "The CSV is empty: row 1 must be the header.");
  if (records.length - 1 > CSV_IMPORT_MAX_ROWS) {
    throw problem(
      "payload-too-large",
      `A CSV import may hold at most ${CSV_IMPORT_MAX_ROWS} rows after the header; this one has ${records.length - 1}. Nothing was imported; split the file.`,
      { limit_rows: CSV_IMPORT_MAX_ROWS },
    );
  }
  const header = readHeader(records[0]!);
  const width = records[0]!.length;
  const broken = new Map<number, string>();
  for (const error of parsed.errors) if (error.row !== undefined && error.row > 0) broken.set(error.row, `${error.message}.`);

  const rows: ImportRow[] = [];
  const errors: RowError[] = [];
  for (let index = 1; index < records.length; index++) {
    if (index % YIELD_EVERY_ROWS === 0) await yieldToOtherRequests();
    const cells = records[index]!;
    const row = index + 1;
    if (cells.length === 1 && cells[0] === "") continue; // a blank line: nothing to do
    const result = broken.get(index) ?? readRow(cells, header, width, row);
    if (typeof result === "string") errors.push({ row, message: result });
    else rows.push(result);
  }
  return { rows, errors };
}

const unparse = (rows: string[][]) => `${Papa.unparse(rows, { newline: "\r\n" })}\r\n`;

/** The export's first line (with the BOM): identifier, channel, name and a column per data key. */
export function exportHeader(keys: string[]): string {
  return BOM + unparse([["identifier", "channel", "name", ...keys.map((key) => `data.${key}`)].map(protectCell)]);
}

/** Export lines for these participants, one cell per data key (empty where the key is absent). */
export function exportLines(
  participants: { identifier: string; channel: string; name: string | null; data: string }[],
  keys: string[],
): string {
  return unparse(
    participants.map((participant) => {
      const data = JSON.parse(participant.data) as JsonObject;
      return [
        participant.identifier,
        participant.channel,
        participant.name ?? "",
        ...keys.map((key) => (Object.hasOwn(data, key) ? encodeDataValue(data[key]!) : "")),
      ].map(protectCell);
    }),
  );
}
