-- Deals between a buyer and a seller organisation over a technology, optionally brokered.
-- The stage machine is domain/deals.rs; every change is an append-only event (added with the
-- deal endpoints). Links to the demand, proposal or enquiry a deal came from are plain ids:
-- those tables belong to other modules.
CREATE TABLE deals (
    id                          TEXT PRIMARY KEY NOT NULL,
    technology_id               TEXT NOT NULL REFERENCES technologies (id),
    buyer_organization_id       TEXT NOT NULL REFERENCES organizations (id),
    seller_organization_id      TEXT NOT NULL REFERENCES organizations (id),
    broker_organization_id      TEXT REFERENCES organizations (id),
    demand_id                   TEXT,
    proposal_id                 TEXT,
    inquiry_id                  TEXT,
    stage                       TEXT NOT NULL DEFAULT 'open'
                                CHECK (stage IN ('open', 'negotiating', 'valuation', 'contracting',
                                                 'signed', 'delivering', 'completed', 'cancelled')),
    -- Terms (Law on Technology Transfer): ownership assignment or usage licence.
    transfer_form               TEXT NOT NULL
                                CHECK (transfer_form IN ('ownership_assignment', 'usage_licence')),
    exclusive                   BOOLEAN,
    territory                   TEXT,
    term_months                 INTEGER CHECK (term_months > 0),
    sublicensing                BOOLEAN,
    -- Money in the currency's minor unit.
    price                       BIGINT CHECK (price >= 0),
    currency                    TEXT CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    payment_schedule            TEXT,
    broker_fee                  BIGINT CHECK (broker_fee >= 0),
    -- The price the deal closed at, recorded on completion; valuations use it as a comparable.
    final_price                 BIGINT CHECK (final_price >= 0),
    buyer_accepted_at           TIMESTAMP,
    seller_accepted_at          TIMESTAMP,
    buyer_confirmed_signing_at  TIMESTAMP,
    seller_confirmed_signing_at TIMESTAMP,
    cancel_reason               TEXT,
    created_by                  TEXT NOT NULL REFERENCES users (id),
    created_at                  TIMESTAMP NOT NULL,
    updated_at                  TIMESTAMP NOT NULL,
    signed_at                   TIMESTAMP,
    completed_at                TIMESTAMP,
    version                     INTEGER NOT NULL DEFAULT 1,
    CHECK (buyer_organization_id <> seller_organization_id)
);
CREATE INDEX deals_buyer ON deals (buyer_organization_id);
CREATE INDEX deals_seller ON deals (seller_organization_id);
CREATE INDEX deals_broker ON deals (broker_organization_id);
CREATE INDEX deals_technology ON deals (technology_id);
CREATE INDEX deals_stage_completed ON deals (stage, completed_at);
-- One live deal per enquiry: a second one can start only after the first was cancelled.
CREATE UNIQUE INDEX deals_one_live_per_inquiry ON deals (inquiry_id) WHERE stage <> 'cancelled';

-- The append-only timeline of a deal: no endpoint updates or deletes these rows.
-- `actor_organization_id` is the party the actor acted for (NULL for exchange staff).
CREATE TABLE deal_events (
    id                    TEXT PRIMARY KEY NOT NULL,
    deal_id               TEXT NOT NULL REFERENCES deals (id),
    actor_id              TEXT NOT NULL REFERENCES users (id),
    actor_organization_id TEXT REFERENCES organizations (id),
    kind                  TEXT NOT NULL
                          CHECK (kind IN ('created', 'accepted', 'stage_changed', 'terms_changed',
                                          'checklist', 'signing_confirmed', 'note', 'valuation')),
    from_stage            TEXT,
    to_stage              TEXT,
    -- JSON snapshots of what changed (terms, a checklist item), or NULL.
    data_before           TEXT,
    data_after            TEXT,
    note                  TEXT,
    created_at            TIMESTAMP NOT NULL
);
CREATE INDEX deal_events_deal ON deal_events (deal_id, created_at);

-- The Art. 23 contract items, one row per item, written when the deal is created.
CREATE TABLE deal_checklist (
    deal_id    TEXT NOT NULL REFERENCES deals (id),
    item       TEXT NOT NULL
               CHECK (item IN ('object', 'scope_of_rights', 'transfer_method', 'price_and_payment',
                               'term', 'schedule', 'warranty', 'penalties', 'dispute_resolution')),
    ticked     BOOLEAN NOT NULL DEFAULT FALSE,
    note       TEXT,
    ticked_by  TEXT REFERENCES users (id),
    ticked_at  TIMESTAMP,
    PRIMARY KEY (deal_id, item)
);

-- An organisation's expression of interest in a published listing, and its thread.
CREATE TABLE inquiries (
    id                   TEXT PRIMARY KEY NOT NULL,
    technology_id        TEXT NOT NULL REFERENCES technologies (id),
    -- The enquiring organisation, and the listing's owner at the time of the enquiry.
    from_organization_id TEXT NOT NULL REFERENCES organizations (id),
    to_organization_id   TEXT NOT NULL REFERENCES organizations (id),
    created_by           TEXT NOT NULL REFERENCES users (id),
    message              TEXT NOT NULL,
    intended_use         TEXT NOT NULL,
    transfer_form        TEXT NOT NULL
                         CHECK (transfer_form IN ('ownership_assignment', 'usage_licence')),
    budget               BIGINT CHECK (budget >= 0),
    budget_currency      TEXT,
    status               TEXT NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'answered', 'closed')),
    -- First reply by the owner side: the response-rate statistic counts the NULLs.
    answered_at          TIMESTAMP,
    closed_at            TIMESTAMP,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL,
    version              INTEGER NOT NULL DEFAULT 1,
    CHECK (from_organization_id <> to_organization_id),
    CHECK ((budget IS NULL) = (budget_currency IS NULL))
);
CREATE INDEX inquiries_from ON inquiries (from_organization_id, created_at);
CREATE INDEX inquiries_to ON inquiries (to_organization_id, created_at);

CREATE TABLE inquiry_messages (
    id              TEXT PRIMARY KEY NOT NULL,
    inquiry_id      TEXT NOT NULL REFERENCES inquiries (id),
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    author_id       TEXT NOT NULL REFERENCES users (id),
    body            TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX inquiry_messages_inquiry ON inquiry_messages (inquiry_id, created_at);
