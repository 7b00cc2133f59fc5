ALTER TABLE technology_reviews DROP COLUMN submitted_at;
