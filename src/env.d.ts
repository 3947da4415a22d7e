// Secrets are not in wrangler.toml, so `wrangler types` cannot see them.
interface Env {
  /** Bearer token for /v1/admin routes. */
  ADMIN_TOKEN?: string;
  /** HMAC key for conversation tokens. */
  TOKEN_SECRET?: string;
}
