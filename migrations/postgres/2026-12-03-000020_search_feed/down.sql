ALTER TABLE technologies ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', title_folded), 'A')
    || setweight(to_tsvector('simple', search_text), 'B')
) STORED;
CREATE INDEX technologies_search ON technologies USING GIN (search_tsv);
ALTER TABLE demands ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', title_folded), 'A')
    || setweight(to_tsvector('simple', search_text), 'B')
) STORED;
CREATE INDEX demands_search ON demands USING GIN (search_tsv);

DROP TRIGGER organizations_search_change ON organizations;
DROP TRIGGER demands_search_change ON demands;
DROP TRIGGER research_results_search_change ON research_results;
DROP TRIGGER technologies_search_change ON technologies;
DROP FUNCTION search_change_of_technology();
DROP FUNCTION search_change();
DROP TABLE search_changes;
