-- Document links have no place in the older timeline: they go with the kind.
DELETE FROM deal_events WHERE kind = 'document_link';
ALTER TABLE deal_events DROP CONSTRAINT deal_events_kind_check;
ALTER TABLE deal_events ADD CONSTRAINT deal_events_kind_check
    CHECK (kind IN ('created', 'accepted', 'stage_changed', 'terms_changed', 'checklist',
                    'signing_confirmed', 'note', 'valuation'));
DROP INDEX deals_one_live_per_match;
