/**
 * Which URLs a webhook may deliver to (server-side request forgery). Only `https:`; plain
 * `http:` and loopback hosts only where the deployment sets ALLOW_LOCAL_WEBHOOKS=true.
 * Address literals that are not global (private, link-local, unspecified, multicast,
 * reserved, and the IPv6 forms that embed such an IPv4 address) are refused outright.
 *
 * Host names are not resolved here (a Worker cannot look up DNS): a name that points at a
 * private address is Cloudflare's egress to refuse, and Workers cannot reach private
 * networks at all. The URL parser has already turned every numeric IPv4 spelling
 * (`2130706433`, `0x7f.1`, `127.1`) into dotted decimal, so only that form is classified.
 */

type AddressClass = "public" | "loopback" | "private" | "link-local" | "unspecified" | "multicast" | "reserved";

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

export const URL_MAX_LENGTH = 2048;

function classifyIpv4(octets: readonly number[]): AddressClass {
  const [a, b, c] = octets as [number, number, number, number];
  if (a === 0) return "unspecified";
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
  if (a === 100 && b >= 64 && b <= 127) return "private"; // shared address space (carrier NAT)
  if (a === 169 && b === 254) return "link-local";
  if (a >= 224 && a <= 239) return "multicast";
  if (a >= 240) return "reserved"; // including the broadcast address
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return "reserved";
  if ((a === 198 && (b === 18 || b === 19)) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113))
    return "reserved";
  return "public";
}

function parseIpv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return null;
  const octets = parts.map(Number);
  return octets.every((octet) => octet <= 255) ? octets : null;
}

/** The eight 16-bit groups of an IPv6 address (without brackets), or null. */
function parseIpv6(text: string): number[] | null {
  let body = text;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (dotted) {
    const octets = parseIpv4(dotted[2]!);
    if (!octets) return null;
    tail.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!);
    body = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (![...head, ...rest].every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return null;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return null;
  const zeros = new Array<number>(8 - known).fill(0);
  return [...head.map((g) => Number.parseInt(g, 16)), ...zeros, ...rest.map((g) => Number.parseInt(g, 16)), ...tail];
}

function embeddedIpv4(high: number, low: number): number[] {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff];
}

function classifyIpv6(g: readonly number[]): AddressClass {
  const zeroUpTo = (count: number) => g.slice(0, count).every((group) => group === 0);
  if (zeroUpTo(8)) return "unspecified";
  if (zeroUpTo(7) && g[7] === 1) return "loopback";
  // ::ffff:a.b.c.d (mapped) reaches the IPv4 address itself.
  if (zeroUpTo(5) && g[5] === 0xffff) return classifyIpv4(embeddedIpv4(g[6]!, g[7]!));
  if (zeroUpTo(6)) return "reserved"; // ::a.b.c.d, deprecated
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address that may be private.
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((group) => group === 0)) {
    return classifyIpv4(embeddedIpv4(g[6]!, g[7]!));
  }
  if (g[0] === 0x64 && g[1] === 0xff9b) return "reserved"; // local-use NAT64
  if (g[0] === 0x2002) {
    return classifyIpv4(embeddedIpv4(g[1]!, g[2]!));
  }
  const first = g[0]!;
  if ((first & 0xfe00) === 0xfc00) return "private"; // unique local, fc00::/7
  if ((first & 0xffc0) === 0xfe80) return "link-local"; // fe80::/10
  if ((first & 0xffc0) === 0xfec0) return "private"; // site-local, deprecated
  if ((first & 0xff00) === 0xff00) return "multicast";
  if (first === 0x2001 && (g[1] === 0 || g[1] === 0xdb8)) return "reserved"; // Teredo, documentation
  if (first === 0x100 && zeroUpTo(4)) return "reserved"; // discard-only
  return "public";
}

function classifyHost(hostname: string): AddressClass {
  if (hostname.startsWith("[") && hostname.endsWith("]")) {
    const groups = parseIpv6(hostname.slice(1, -1));
    return groups ? classifyIpv6(groups) : "reserved";
  }
  const octets = parseIpv4(hostname);
  if (octets) return classifyIpv4(octets);
  const name = hostname.replace(/\.+$/, "");
  // `localhost` and its subdomains are loopback by definition (RFC 6761).
  if (name === "localhost" || name.endsWith(".localhost")) return "loopback";
  return "public";
}

const REFUSED: Record<Exclude<AddressClass, "public" | "loopback">, string> = {
  private: "a private address",
  "link-local": "a link-local address",
  unspecified: "an unspecified address",
  multicast: "a multicast address",
  reserved: "a reserved address",
};

/** The URL a webhook may be created with (and delivered to), or why not. */
export function checkWebhookUrl(raw: string, allowLocal: boolean): UrlVerdict {
  if (raw.length > URL_MAX_LENGTH) return { ok: false, reason: `must be at most ${URL_MAX_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "must be an absolute URL such as https://hooks.example.com/chat-context" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { ok: false, reason: "must use https" };
  if (url.username !== "" || url.password !== "") return { ok: false, reason: "must not carry a user name or password" };
  const kind = classifyHost(url.hostname);
  if (kind === "loopback") {
    return allowLocal
      ? { ok: true, url }
      : { ok: false, reason: `${url.hostname} is a loopback host, allowed only where the deployment sets ALLOW_LOCAL_WEBHOOKS=true` };
  }
  if (kind !== "public") return { ok: false, reason: `${url.hostname} is ${REFUSED[kind]}` };
  if (url.protocol !== "https:")
    return { ok: false, reason: "must use https (plain http only to a loopback host, where the deployment allows it)" };
  return { ok: true, url };
}
