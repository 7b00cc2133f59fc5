DROP TABLE technology_reviews;
DROP TABLE research_results;
DROP TRIGGER technologies_fts_update;
DROP TRIGGER technologies_fts_delete;
DROP TRIGGER technologies_fts_insert;
DROP TABLE technologies_fts;
DROP TABLE technologies;
