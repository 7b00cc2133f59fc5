-- Each moderation decision keeps the submission it decided, so the review turnaround covers
-- every decision, not only a listing's latest (technologies.submitted_at is overwritten on
-- each resubmission). Earlier decisions are filled in where the listing's latest submission
-- precedes them; older ones stay unknown (NULL) and are not measured.
ALTER TABLE technology_reviews ADD COLUMN submitted_at TIMESTAMP;
UPDATE technology_reviews SET submitted_at = (
    SELECT t.submitted_at FROM technologies t
    WHERE t.id = technology_reviews.technology_id AND t.submitted_at <= technology_reviews.created_at
);
