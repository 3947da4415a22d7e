-- API keys get a name, a scope and a revocation time. Keys made before this migration
-- were the teams' only keys and could do everything: they become write keys.
ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT 'Initial key';
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'write' CHECK (scope IN ('write', 'read'));
-- A revoked key's row is kept (never reused, still attributable) and refused at once.
ALTER TABLE api_keys ADD COLUMN revoked_at TEXT;
