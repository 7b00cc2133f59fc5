-- Notifications waiting to be delivered. Rows are written in the same transaction as the
-- change that caused them and delivered by the outbox worker (see src/mail/).
-- A worker claims a row by setting status 'sending', a lease (locked_until, lease_id) and
-- next_attempt_at = locked_until: should the worker die, the row is due again when the lease
-- expires. `attempts` counts delivery attempts started, including the one in progress.
CREATE TABLE outbox (
    id              UUID PRIMARY KEY,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient       TEXT NOT NULL,
    template        TEXT NOT NULL,
    language        TEXT NOT NULL CHECK (language IN ('vi', 'en')),
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until    TIMESTAMP,
    lease_id        UUID,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
-- What a worker's claim scans: due rows of its channel.
CREATE INDEX outbox_due ON outbox (channel, next_attempt_at) WHERE status IN ('pending', 'sending');
-- The staff listing, newest first, optionally by status.
CREATE INDEX outbox_status_created ON outbox (status, created_at);
CREATE INDEX outbox_created ON outbox (created_at);
