-- Deals opened from an accepted proposal or from a match record the demand (and proposal);
-- one live deal per technology and demand, as per enquiry. Parties attach document links to
-- a deal's timeline: a `document_link` event whose `data_after` is {"title", "url"}.
CREATE UNIQUE INDEX deals_one_live_per_match ON deals (technology_id, demand_id)
    WHERE stage <> 'cancelled';

ALTER TABLE deal_events DROP CONSTRAINT deal_events_kind_check;
ALTER TABLE deal_events ADD CONSTRAINT deal_events_kind_check
    CHECK (kind IN ('created', 'accepted', 'stage_changed', 'terms_changed', 'checklist',
                    'signing_confirmed', 'note', 'valuation', 'document_link'));
