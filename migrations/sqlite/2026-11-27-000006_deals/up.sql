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
