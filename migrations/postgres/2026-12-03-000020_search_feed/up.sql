-- The search engine (tantivy, one index per process) replaces PostgreSQL full-text search.
-- Every change that alters what search shows appends a row here, by trigger, in the same
-- transaction as the change; each process applies the rows in order (src/search/feed.rs).
CREATE TABLE search_changes (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity      TEXT NOT NULL CHECK (entity IN ('technology', 'demand', 'organization')),
    entity_id   UUID NOT NULL,
    changed_at  TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- TG_ARGV[0] names the entity; the row's id is `id`, or `technology_id` for research data.
CREATE FUNCTION search_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_changes (entity, entity_id)
    VALUES (TG_ARGV[0], CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
    RETURN NULL;
END;
$$;

CREATE FUNCTION search_change_of_technology() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_changes (entity, entity_id)
    VALUES ('technology', CASE WHEN TG_OP = 'DELETE' THEN OLD.technology_id ELSE NEW.technology_id END);
    RETURN NULL;
END;
$$;

CREATE TRIGGER technologies_search_change AFTER INSERT OR UPDATE OR DELETE ON technologies
    FOR EACH ROW EXECUTE FUNCTION search_change('technology');
CREATE TRIGGER research_results_search_change AFTER INSERT OR UPDATE OR DELETE ON research_results
    FOR EACH ROW EXECUTE FUNCTION search_change_of_technology();
CREATE TRIGGER demands_search_change AFTER INSERT OR UPDATE OR DELETE ON demands
    FOR EACH ROW EXECUTE FUNCTION search_change('demand');
CREATE TRIGGER organizations_search_change AFTER UPDATE OF name, verified ON organizations
    FOR EACH ROW EXECUTE FUNCTION search_change('organization');

DROP INDEX technologies_search;
ALTER TABLE technologies DROP COLUMN search_tsv;
DROP INDEX demands_search;
ALTER TABLE demands DROP COLUMN search_tsv;
