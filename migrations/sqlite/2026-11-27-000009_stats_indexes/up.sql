-- Indexes for statistics, activity reports and open data (store/stats.rs). The activity
-- report counts rows whose timestamp falls in a date range, so each dated column it filters
-- on gets an index; the open-data export walks published listings in id order (keyset).
CREATE INDEX technologies_status_id ON technologies (status, id);
CREATE INDEX technologies_created ON technologies (created_at);
CREATE INDEX technologies_published ON technologies (published_at);
CREATE INDEX technology_reviews_created ON technology_reviews (created_at);
CREATE INDEX demands_created ON demands (created_at);
CREATE INDEX demands_published ON demands (published_at);
CREATE INDEX inquiries_created ON inquiries (created_at);
CREATE INDEX proposals_created ON proposals (created_at);
CREATE INDEX match_notifications_notified ON match_notifications (notified_at);
CREATE INDEX deals_created ON deals (created_at);
CREATE INDEX deals_signed ON deals (signed_at);
CREATE INDEX deals_completed ON deals (completed_at);
CREATE INDEX deals_technology_stage ON deals (technology_id, stage);
CREATE INDEX valuation_requests_created ON valuation_requests (created_at);
CREATE INDEX valuation_requests_completed ON valuation_requests (completed_at);
CREATE INDEX organizations_verified_kind ON organizations (verified, kind);
