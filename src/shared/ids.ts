const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

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
  const random = crypto.getRandomValues(new Uint8Array(16));
  let tail = "";
  for (const byte of random) tail += CROCKFORD[byte & 31];
  return `${prefix}_${time}${tail}`;
}

/** Ids are opaque to callers; this only guards against junk reaching the database. */
export const ID_PATTERN = /^[a-z]{2,5}_[0-9a-z]{26}$/;
