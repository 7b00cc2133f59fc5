-- Deals opened from an accepted proposal or from a match record the demand (and proposal);
-- one live deal per technology and demand, as per enquiry. Parties attach document links to
-- a deal's timeline: a `document_link` event whose `data_after` is {"title", "url"}.
CREATE UNIQUE INDEX deals_one_live_per_match ON deals (technology_id, demand_id)
    WHERE stage <> 'cancelled';

-- SQLite cannot alter a CHECK constraint: the timeline table is rebuilt with the new kind
-- list (nothing references deal_events, so the copy keeps every row and id).
CREATE TABLE deal_events_new (
    id                    TEXT PRIMARY KEY NOT NULL,
    deal_id               TEXT NOT NULL REFERENCES deals (id),
    actor_id              TEXT NOT NULL REFERENCES users (id),
    actor_organization_id TEXT REFERENCES organizations (id),
    kind                  TEXT NOT NULL
                          CHECK (kind IN ('created', 'accepted', 'stage_changed', 'terms_changed',
                                          'checklist', 'signing_confirmed', 'note', 'valuation',
                                          'document_link')),
    from_stage            TEXT,
    to_stage              TEXT,
    -- JSON snapshots of what changed (terms, a checklist item, a document link), or NULL.
    data_before           TEXT,
    data_after            TEXT,
    note                  TEXT,
    created_at            TIMESTAMP NOT NULL
);
INSERT INTO deal_events_new (id, deal_id, actor_id, actor_organization_id, kind, from_stage,
                             to_stage, data_before, data_after, note, created_at)
    SELECT id, deal_id, actor_id, actor_organization_id, kind, from_stage, to_stage,
           data_before, data_after, note, created_at
    FROM deal_events;
DROP TABLE deal_events;
ALTER TABLE deal_events_new RENAME TO deal_events;
CREATE INDEX deal_events_deal ON deal_events (deal_id, created_at);
