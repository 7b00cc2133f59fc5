-- Organisation API keys (issue 17). The secret is never stored: secret_hash is the
-- HMAC-SHA256 of the whole key under the server's pepper (TECHX_API_KEY_PEPPER), so a
-- leaked table cannot be replayed, and checking a key costs microseconds (no argon2).
-- prefix (techx_live_ + the lookup part) is public: it finds the row and names the key.
CREATE TABLE api_keys (
    id                   UUID PRIMARY KEY,
    organization_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    prefix               TEXT NOT NULL UNIQUE,
    secret_hash          TEXT NOT NULL,
    -- After a roll, the old secret keeps working until previous_expires_at (at most 24 h).
    previous_hash        TEXT,
    previous_expires_at  TIMESTAMP,
    -- JSON array of scope names.
    scopes               TEXT NOT NULL,
    role                 TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    expires_at           TIMESTAMP,
    created_by           UUID NOT NULL REFERENCES users (id),
    created_at           TIMESTAMP NOT NULL,
    rolled_at            TIMESTAMP,
    last_used_at         TIMESTAMP,
    last_used_address    TEXT,
    revoked_at           TIMESTAMP,
    revoked_by           UUID REFERENCES users (id)
);
CREATE INDEX api_keys_organization ON api_keys (organization_id, created_at);

-- Every address a key was used from, to mail the owners on the first use from a new one.
CREATE TABLE api_key_addresses (
    api_key_id     UUID NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    address        TEXT NOT NULL,
    first_seen_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (api_key_id, address)
);

-- The audit log: one row per write made with a user session or an API key, appended in
-- the transaction of the change (outcome 'succeeded'), or after a refused or failed write
-- in a transaction of its own (outcome 'failed'). No foreign keys: the record outlives
-- the users, keys and objects it names. The API never updates or deletes a row; only the
-- retention job (TECHX_AUDIT_RETENTION_DAYS) removes old ones.
CREATE TABLE audit_events (
    id               UUID PRIMARY KEY,
    occurred_at      TIMESTAMP NOT NULL,
    organization_id  UUID,
    actor_type       TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key')),
    user_id          UUID,
    api_key_id       UUID,
    operation_id     TEXT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    resource_type    TEXT NOT NULL,
    resource_id      TEXT,
    address          TEXT,
    request_id       TEXT,
    outcome          TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
    -- The HTTP status of a failed write; NULL for a committed one (the response is not
    -- known yet when the change commits).
    status           INTEGER
);
CREATE INDEX audit_events_organization ON audit_events (organization_id, occurred_at);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at);
CREATE INDEX audit_events_api_key ON audit_events (api_key_id, occurred_at);
CREATE INDEX audit_events_user ON audit_events (user_id, occurred_at);
CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id);
