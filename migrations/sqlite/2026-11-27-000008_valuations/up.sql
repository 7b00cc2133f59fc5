-- Valuation requests (yêu cầu định giá) and their status history. The lifecycle is
-- domain/valuation.rs; money is in the currency's minor unit. Dates are ISO `YYYY-MM-DD`
-- text: a calendar date, not an instant, on both backends.
CREATE TABLE valuation_requests (
    id                          TEXT PRIMARY KEY NOT NULL,
    technology_id               TEXT NOT NULL REFERENCES technologies (id),
    requester_organization_id   TEXT NOT NULL REFERENCES organizations (id),
    requested_by                TEXT NOT NULL REFERENCES users (id),
    -- A linked deal is a plain reference: its stage events belong to the deals module.
    deal_id                     TEXT REFERENCES deals (id),
    purpose                     TEXT NOT NULL
                                CHECK (purpose IN ('sale', 'licence', 'capital_contribution',
                                                   'state_result_assignment', 'auction_reserve',
                                                   'other')),
    -- The rights valued (Law on Technology Transfer): ownership or usage, and its scope.
    rights_kind                 TEXT NOT NULL CHECK (rights_kind IN ('ownership', 'usage')),
    rights_exclusive            BOOLEAN,
    rights_territory            TEXT,
    rights_term_months          INTEGER CHECK (rights_term_months > 0),
    valuation_date              TEXT NOT NULL,
    preferred_method            TEXT NOT NULL
                                CHECK (preferred_method IN ('cost', 'market', 'income', 'mixed')),
    -- JSON object: rd_costs [{year, amount}], budget_spent, revenue_forecasts [amount],
    -- comparables_known [{description, price}], currency.
    inputs                      TEXT NOT NULL DEFAULT '{}',
    deadline                    TEXT,
    status                      TEXT NOT NULL DEFAULT 'submitted'
                                CHECK (status IN ('submitted', 'assigned', 'in_progress',
                                                  'completed', 'declined', 'cancelled')),
    appraiser_organization_id   TEXT REFERENCES organizations (id),
    -- Set on completion.
    value_point                 BIGINT CHECK (value_point >= 0),
    value_low                   BIGINT CHECK (value_low >= 0),
    value_high                  BIGINT CHECK (value_high >= 0),
    currency                    TEXT CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    -- JSON array of the methods used.
    methods                     TEXT NOT NULL DEFAULT '[]',
    assumptions                 TEXT,
    report_summary              TEXT,
    report_url                  TEXT,
    completed_at                TIMESTAMP,
    created_at                  TIMESTAMP NOT NULL,
    updated_at                  TIMESTAMP NOT NULL,
    version                     INTEGER NOT NULL DEFAULT 1,
    CHECK (value_low IS NULL OR value_high IS NULL OR value_low <= value_high),
    CHECK (status <> 'completed' OR (completed_at IS NOT NULL AND currency IS NOT NULL)),
    CHECK (status NOT IN ('assigned', 'in_progress', 'completed')
           OR appraiser_organization_id IS NOT NULL)
);
CREATE INDEX valuation_requests_technology ON valuation_requests (technology_id, created_at);
CREATE INDEX valuation_requests_requester ON valuation_requests (requester_organization_id);
CREATE INDEX valuation_requests_appraiser ON valuation_requests (appraiser_organization_id);
CREATE INDEX valuation_requests_status ON valuation_requests (status, created_at);

-- Append-only: who moved a request from which status to which, when, and why.
CREATE TABLE valuation_request_events (
    id                      TEXT PRIMARY KEY NOT NULL,
    valuation_request_id    TEXT NOT NULL REFERENCES valuation_requests (id),
    from_status             TEXT,
    to_status               TEXT NOT NULL,
    actor_user_id           TEXT NOT NULL REFERENCES users (id),
    note                    TEXT,
    created_at              TIMESTAMP NOT NULL
);
CREATE INDEX valuation_request_events_request
    ON valuation_request_events (valuation_request_id, created_at);
