-- Technology demands (what an enterprise needs), the proposals sellers answer them with,
-- and the bookkeeping of matching: pairs already notified and pairs a side dismissed.
-- Demands follow the listings' moderation lifecycle (domain/listing.rs) and search index.
CREATE TABLE demands (
    -- FTS5 needs an integer rowid for external content (see technologies).
    search_rowid        INTEGER PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE,
    organization_id     TEXT NOT NULL REFERENCES organizations (id),
    created_by          TEXT NOT NULL REFERENCES users (id),
    status              TEXT NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'pending_review', 'published', 'rejected',
                                          'archived')),
    language            TEXT NOT NULL CHECK (language IN ('vi', 'en')),
    province            TEXT NOT NULL,
    trl_min             INTEGER CHECK (trl_min BETWEEN 1 AND 9),
    -- Budget in the currency's minor unit; currency NULL when no budget is given.
    budget_min          BIGINT CHECK (budget_min >= 0),
    budget_max          BIGINT CHECK (budget_max >= 0),
    currency            TEXT CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    -- ISO 8601 date (YYYY-MM-DD), text on both backends.
    deadline            TEXT,
    -- Public demands may hide who posted them (owners and staff still see it).
    hide_organization   BOOLEAN NOT NULL DEFAULT FALSE,
    -- JSON arrays: FORD sector codes; keywords; transfer form codes wanted.
    sectors             TEXT NOT NULL DEFAULT '[]',
    keywords            TEXT NOT NULL DEFAULT '[]',
    transfer_forms      TEXT NOT NULL DEFAULT '[]',
    rejection_reason    TEXT,
    submitted_at        TIMESTAMP,
    published_at        TIMESTAMP,
    expires_at          TIMESTAMP,
    expiry_warned_at    TIMESTAMP,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    -- Long text last (see technologies).
    title               TEXT NOT NULL,
    problem             TEXT NOT NULL,
    requirements        TEXT,
    title_folded        TEXT NOT NULL,
    search_text         TEXT NOT NULL,
    CHECK (budget_min IS NULL OR budget_max IS NULL OR budget_min <= budget_max),
    CHECK (currency IS NOT NULL OR (budget_min IS NULL AND budget_max IS NULL)),
    CHECK (status <> 'published' OR (published_at IS NOT NULL AND expires_at IS NOT NULL))
);
CREATE INDEX demands_status_published ON demands (status, published_at);
CREATE INDEX demands_status_expires ON demands (status, expires_at);
CREATE INDEX demands_organization ON demands (organization_id, created_at);

CREATE VIRTUAL TABLE demands_fts USING fts5(
    title_folded, search_text,
    content = 'demands', content_rowid = 'search_rowid',
    tokenize = 'unicode61'
);
CREATE TRIGGER demands_fts_insert AFTER INSERT ON demands BEGIN
    INSERT INTO demands_fts (rowid, title_folded, search_text)
    VALUES (new.search_rowid, new.title_folded, new.search_text);
END;
CREATE TRIGGER demands_fts_delete AFTER DELETE ON demands BEGIN
    INSERT INTO demands_fts (demands_fts, rowid, title_folded, search_text)
    VALUES ('delete', old.search_rowid, old.title_folded, old.search_text);
END;
CREATE TRIGGER demands_fts_update AFTER UPDATE OF title_folded, search_text ON demands
BEGIN
    INSERT INTO demands_fts (demands_fts, rowid, title_folded, search_text)
    VALUES ('delete', old.search_rowid, old.title_folded, old.search_text);
    INSERT INTO demands_fts (rowid, title_folded, search_text)
    VALUES (new.search_rowid, new.title_folded, new.search_text);
END;

CREATE TABLE proposals (
    id                  TEXT PRIMARY KEY NOT NULL,
    demand_id           TEXT NOT NULL REFERENCES demands (id) ON DELETE CASCADE,
    organization_id     TEXT NOT NULL REFERENCES organizations (id),
    technology_id       TEXT REFERENCES technologies (id),
    created_by          TEXT NOT NULL REFERENCES users (id),
    status              TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'accepted', 'declined', 'withdrawn')),
    -- Price in the currency's minor unit.
    price               BIGINT CHECK (price >= 0),
    currency            TEXT CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    timeline_months     INTEGER CHECK (timeline_months > 0),
    decided_by          TEXT REFERENCES users (id),
    decided_at          TIMESTAMP,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    approach            TEXT NOT NULL,
    message             TEXT,
    CHECK ((price IS NULL) = (currency IS NULL))
);
CREATE INDEX proposals_demand ON proposals (demand_id, created_at);
CREATE INDEX proposals_organization ON proposals (organization_id, created_at);

-- A pair is notified once: the primary key makes a second notification impossible.
CREATE TABLE match_notifications (
    technology_id       TEXT NOT NULL REFERENCES technologies (id) ON DELETE CASCADE,
    demand_id           TEXT NOT NULL REFERENCES demands (id) ON DELETE CASCADE,
    score               INTEGER NOT NULL,
    notified_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (technology_id, demand_id)
);
CREATE INDEX match_notifications_demand ON match_notifications (demand_id);

-- A side (organisation) that does not want to see a pair again.
CREATE TABLE match_dismissals (
    technology_id       TEXT NOT NULL REFERENCES technologies (id) ON DELETE CASCADE,
    demand_id           TEXT NOT NULL REFERENCES demands (id) ON DELETE CASCADE,
    organization_id     TEXT NOT NULL REFERENCES organizations (id),
    dismissed_by        TEXT NOT NULL REFERENCES users (id),
    created_at          TIMESTAMP NOT NULL,
    PRIMARY KEY (technology_id, demand_id, organization_id)
);
CREATE INDEX match_dismissals_demand ON match_dismissals (demand_id, organization_id);
