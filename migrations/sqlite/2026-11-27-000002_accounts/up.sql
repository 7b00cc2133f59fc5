-- People, their sessions and the organisations they act for.
CREATE TABLE users (
    id                TEXT PRIMARY KEY NOT NULL,
    email             TEXT NOT NULL,
    -- Lowercased email: the unique login key (emails are case-insensitively unique).
    email_normalized  TEXT NOT NULL UNIQUE,
    password_hash     TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    language          TEXT NOT NULL CHECK (language IN ('vi', 'en')),
    platform_role     TEXT NOT NULL DEFAULT 'member'
                      CHECK (platform_role IN ('admin', 'moderator', 'member')),
    email_verified_at TIMESTAMP,
    disabled_at       TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1
);

-- Single-use tokens sent by mail (email verification, password reset); only hashes stored.
CREATE TABLE email_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);

-- Rotating refresh tokens. A login starts a family; each refresh uses one token and issues
-- the next in the same family. Presenting a used token revokes the whole family.
CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP,
    revoked_at  TIMESTAMP,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Failed-login counters per account and per client address, shared by every process.
CREATE TABLE login_throttle (
    key           TEXT PRIMARY KEY NOT NULL,
    failures      INTEGER NOT NULL,
    window_start  TIMESTAMP NOT NULL,
    locked_until  TIMESTAMP
);

CREATE TABLE organizations (
    id                 TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    name_folded        TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('enterprise', 'research_institute',
                       'university', 'intermediary', 'government', 'individual')),
    tax_code           TEXT,
    province           TEXT NOT NULL,
    address            TEXT,
    website            TEXT,
    description        TEXT,
    -- JSON arrays of FORD sector codes and, for intermediaries, services offered.
    sectors            TEXT NOT NULL DEFAULT '[]',
    services           TEXT NOT NULL DEFAULT '[]',
    verified           BOOLEAN NOT NULL DEFAULT FALSE,
    verified_at        TIMESTAMP,
    created_by         TEXT NOT NULL REFERENCES users (id),
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    version            INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX organizations_kind_province ON organizations (kind, province);
CREATE INDEX organizations_name_folded ON organizations (name_folded);

CREATE TABLE memberships (
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role             TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    created_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invitations (
    id                TEXT PRIMARY KEY NOT NULL,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email_normalized  TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    token_hash        TEXT NOT NULL UNIQUE,
    invited_by        TEXT NOT NULL REFERENCES users (id),
    expires_at        TIMESTAMP NOT NULL,
    accepted_at       TIMESTAMP,
    accepted_by       TEXT REFERENCES users (id),
    created_at        TIMESTAMP NOT NULL
);
CREATE INDEX invitations_organization ON invitations (organization_id);

-- Every verification decision by staff, kept as history.
CREATE TABLE organization_verifications (
    id               TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status           TEXT NOT NULL CHECK (status IN ('verified', 'revoked')),
    note             TEXT,
    decided_by       TEXT NOT NULL REFERENCES users (id),
    created_at       TIMESTAMP NOT NULL
);
CREATE INDEX organization_verifications_org ON organization_verifications (organization_id);

-- Responses to creating POSTs by Idempotency-Key, so a retried request gets the first answer.
CREATE TABLE idempotency_keys (
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status_code    INTEGER NOT NULL,
    response_body  TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);
