const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

/**
 * Random bytes for ids, drawn from the runtime's CSPRNG a block at a time: a message
 * makes two ids, and one call for 256 of them costs less than a call (and a buffer)
 * for each. Filled on first use, never at startup (Workers refuse randomness there).
 */
const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let used = 0;

function randomBytes(count: number): Uint8Array {
  if (used + count > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    used = 0;
  }
  const bytes = pool.subarray(used, used + count);
  used += count;
  return bytes;
}

/**
 * Time-ordered ids (ULID-like, lower case): `<prefix>_<10 chars of ms time><16 random chars>`.
 * Sorting by id sorts by creation time, so cursors can be plain ids.
 */
export function newId(prefix: string, now = Date.now()): string {
  let time = "";
  let remaining = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[remaining % 32]! + time;
    remaining = Math.floor(remaining / 32);
  }
  let tail = "";
  for (const byte of randomBytes(16)) tail += CROCKFORD[byte & 31];
  return `${prefix}_${time}${tail}`;
}

/** Ids are opaque to callers; this only guards against junk reaching the database. */
export const ID_PATTERN = /^[a-z]{2,5}_[0-9a-z]{26}$/;
