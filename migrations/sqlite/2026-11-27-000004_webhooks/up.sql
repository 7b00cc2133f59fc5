-- Webhook endpoints registered by organisations, and the log of every delivery attempt.
-- Events reach an endpoint through the outbox (channel 'webhook', recipient = endpoint id).
CREATE TABLE webhook_endpoints (
    id                    TEXT PRIMARY KEY NOT NULL,
    organization_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    -- JSON array of subscribed event types.
    event_types           TEXT NOT NULL,
    active                BOOLEAN NOT NULL DEFAULT TRUE,
    -- The HMAC key deliveries are signed with. Kept as is because signing needs it; it is
    -- shown once, at registration, and never selected into a response after that.
    secret                TEXT NOT NULL,
    -- Failed delivery attempts since the last success; at TECHX_WEBHOOK_DISABLE_AFTER the
    -- endpoint is disabled (active = false with disabled_at and disabled_reason set).
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    disabled_at           TIMESTAMP,
    disabled_reason       TEXT,
    created_by            TEXT NOT NULL REFERENCES users (id),
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    version               INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX webhook_endpoints_organization ON webhook_endpoints (organization_id, created_at);

-- One row per delivery attempt (or refusal at send time). outbox_id is the
-- X-Techx-Delivery header; not a foreign key, so the outbox can be pruned on its own.
CREATE TABLE webhook_deliveries (
    id           TEXT PRIMARY KEY NOT NULL,
    endpoint_id  TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    outbox_id    TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    -- The receiver's HTTP status, when it answered.
    status_code  INTEGER,
    -- Why the attempt failed; NULL when it succeeded.
    error        TEXT,
    duration_ms  BIGINT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
