/** The counters the Worker reports: `do-rows-read` is `doRowsRead`, and so on. */
export type CostCounter = "doRowsRead" | "doRowsWritten" | "d1RowsRead" | "d1RowsWritten" | "kvReads" | "kvWrites";

/** A request's cost: exactly the counters its header held, each a whole number. */
export type Cost = Readonly<Record<CostCounter, number>>;

/** A name shaped like a counter (`…Read`, `…Written`, `…Reads`, `…Writes`); matchers' own probes never are. */
const COUNTER_NAME = /^[a-z][A-Za-z0-9]*(Read|Written|Reads|Writes)$/;

const camelCase = (name: string) => name.replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());

/**
 * Parses a response's `Chat-Context-Cost` header (`do-rows-read=1, do-rows-written=2, d1-rows-written=0`
 * from the widget, `d1-rows-read=1, d1-rows-written=0, kv-reads=1, kv-writes=0` from renders) into
 * camelCase counters. The object holds exactly the counters the header held, so `toEqual` pins the set;
 * reading a counter the header lacks throws instead of giving `undefined`.
 */
export function costOf(response: { headers: Headers }): Cost {
  const header = response.headers.get("Chat-Context-Cost");
  if (!header) throw new Error("no Chat-Context-Cost header");
  const counters: Record<string, number> = {};
  for (const part of header.split(",")) {
    const [name, value, ...rest] = part.trim().split("=");
    const count = Number(value);
    if (!name || rest.length > 0 || value === "" || !Number.isInteger(count) || count < 0) {
      throw new Error(`Chat-Context-Cost has a malformed counter ${JSON.stringify(part)}: ${header}`);
    }
    counters[camelCase(name)] = count;
  }
  return new Proxy(counters, {
    get(target, property, receiver) {
      if (typeof property === "string" && COUNTER_NAME.test(property) && !Object.hasOwn(target, property)) {
        throw new Error(`Chat-Context-Cost lacks ${property}: ${header}`);
      }
      return Reflect.get(target, property, receiver);
    },
  }) as Cost;
}
