-- Technology listings (technologies, equipment, research results), their research data,
-- moderation history and full-text index.
CREATE TABLE technologies (
    -- The FTS5 index below refers to rows by an integer rowid; declaring it makes it stable
    -- (VACUUM may renumber an implicit rowid). Not in schema.rs: the API uses `id`.
    search_rowid        INTEGER PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE,
    organization_id     TEXT NOT NULL REFERENCES organizations (id),
    created_by          TEXT NOT NULL REFERENCES users (id),
    kind                TEXT NOT NULL
                        CHECK (kind IN ('technology', 'equipment', 'research_result')),
    status              TEXT NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'pending_review', 'published', 'rejected',
                                          'archived')),
    -- Language the text is written in.
    language            TEXT NOT NULL CHECK (language IN ('vi', 'en')),
    province            TEXT NOT NULL,
    trl                 INTEGER CHECK (trl BETWEEN 1 AND 9),
    -- Asking price in the currency's minor unit; all NULL when none is given.
    price_min           BIGINT CHECK (price_min >= 0),
    price_max           BIGINT CHECK (price_max >= 0),
    currency            TEXT CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    price_basis         TEXT CHECK (price_basis IN ('indicative', 'floor', 'firm', 'negotiable')),
    contact_visibility  TEXT NOT NULL
                        CHECK (contact_visibility IN ('public', 'members', 'on_request')),
    -- JSON arrays: FORD sector codes; keywords; IP records ({"type", "number", "status",
    -- "filing_date", "grant_date", "territory"}); transfer forms offered ({"form",
    -- "exclusive", "sublicensing", "territory", "term_months"}).
    sectors             TEXT NOT NULL DEFAULT '[]',
    keywords            TEXT NOT NULL DEFAULT '[]',
    ip_records          TEXT NOT NULL DEFAULT '[]',
    transfer_forms      TEXT NOT NULL DEFAULT '[]',
    rejection_reason    TEXT,
    submitted_at        TIMESTAMP,
    published_at        TIMESTAMP,
    expires_at          TIMESTAMP,
    -- Set when the "expires in 14 days" mail was queued, so it is queued once.
    expiry_warned_at    TIMESTAMP,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    -- Long text last: filters read the short columns at the start of a row without touching
    -- the rest (SQLite reads a record's columns in order, spilling long ones to overflow pages).
    title               TEXT NOT NULL,
    summary             TEXT NOT NULL,
    advantages          TEXT,
    applications        TEXT,
    description         TEXT NOT NULL,
    -- Folded words (domain::search::index_text) of the title, and of title + summary +
    -- keywords + description + advantages + applications + research data: what search
    -- matches, on both backends.
    title_folded        TEXT NOT NULL,
    search_text         TEXT NOT NULL,
    CHECK (price_min IS NULL OR price_max IS NULL OR price_min <= price_max),
    CHECK ((currency IS NULL) = (price_basis IS NULL)),
    CHECK (status <> 'published' OR (published_at IS NOT NULL AND expires_at IS NOT NULL))
);

-- Public lists filter on status and sort by publication date or price; the portfolio lists
-- an organisation's listings; the expiry job looks for published ones near their end.
CREATE INDEX technologies_status_published ON technologies (status, published_at);
CREATE INDEX technologies_status_price ON technologies (status, price_min);
CREATE INDEX technologies_status_expires ON technologies (status, expires_at);
CREATE INDEX technologies_organization ON technologies (organization_id, created_at);
CREATE INDEX technologies_province ON technologies (province, status);
CREATE INDEX technologies_kind ON technologies (kind, status);

-- Full-text index over the folded title and text (external content: the text lives in
-- technologies only). bm25() weights the title column above the rest (db/dialect.rs).
CREATE VIRTUAL TABLE technologies_fts USING fts5(
    title_folded, search_text,
    content = 'technologies', content_rowid = 'search_rowid',
    tokenize = 'unicode61'
);
CREATE TRIGGER technologies_fts_insert AFTER INSERT ON technologies BEGIN
    INSERT INTO technologies_fts (rowid, title_folded, search_text)
    VALUES (new.search_rowid, new.title_folded, new.search_text);
END;
CREATE TRIGGER technologies_fts_delete AFTER DELETE ON technologies BEGIN
    INSERT INTO technologies_fts (technologies_fts, rowid, title_folded, search_text)
    VALUES ('delete', old.search_rowid, old.title_folded, old.search_text);
END;
CREATE TRIGGER technologies_fts_update AFTER UPDATE OF title_folded, search_text ON technologies
BEGIN
    INSERT INTO technologies_fts (technologies_fts, rowid, title_folded, search_text)
    VALUES ('delete', old.search_rowid, old.title_folded, old.search_text);
    INSERT INTO technologies_fts (rowid, title_folded, search_text)
    VALUES (new.search_rowid, new.title_folded, new.search_text);
END;

-- Data of research results (kind = research_result), one row per such listing.
CREATE TABLE research_results (
    technology_id       TEXT PRIMARY KEY NOT NULL REFERENCES technologies (id) ON DELETE CASCADE,
    funding_level       TEXT NOT NULL
                        CHECK (funding_level IN ('national', 'ministerial', 'provincial', 'grassroots')),
    programme           TEXT,
    task_code           TEXT NOT NULL,
    host_organization   TEXT NOT NULL,
    managing_agency     TEXT NOT NULL,
    -- Budget spent, in the currency's minor unit.
    budget_spent        BIGINT CHECK (budget_spent >= 0),
    budget_currency     TEXT,
    completion_year     INTEGER,
    rights_status       TEXT NOT NULL
                        CHECK (rights_status IN ('state_owned', 'usage_assigned', 'ownership_assigned')),
    assignee            TEXT,
    CHECK ((budget_spent IS NULL) = (budget_currency IS NULL))
);
CREATE INDEX research_results_funding_level ON research_results (funding_level);
CREATE INDEX research_results_rights_status ON research_results (rights_status);

-- Every moderation decision, kept as history.
CREATE TABLE technology_reviews (
    id                  TEXT PRIMARY KEY NOT NULL,
    technology_id       TEXT NOT NULL REFERENCES technologies (id) ON DELETE CASCADE,
    decision            TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason              TEXT,
    decided_by          TEXT NOT NULL REFERENCES users (id),
    created_at          TIMESTAMP NOT NULL
);
CREATE INDEX technology_reviews_technology ON technology_reviews (technology_id, created_at);
