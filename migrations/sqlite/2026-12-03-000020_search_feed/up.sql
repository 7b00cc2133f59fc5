-- The search engine (tantivy, one index per process) replaces FTS5. Every change that alters
-- what search shows appends a row here, by trigger, in the same transaction as the change;
-- each process applies the rows in order (src/search/feed.rs).
CREATE TABLE search_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    entity      TEXT NOT NULL CHECK (entity IN ('technology', 'demand', 'organization')),
    entity_id   TEXT NOT NULL,
    changed_at  TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TRIGGER technologies_search_insert AFTER INSERT ON technologies BEGIN
    INSERT INTO search_changes (entity, entity_id) VALUES ('technology', new.id);
END;
CREATE TRIGGER technologies_search_update AFTER UPDATE ON technologies BEGIN
    INSERT INTO search_changes (entity, entity_id) VALUES ('technology', new.id);
END;
CREATE TRIGGER technologies_search_delete AFTER DELETE ON technologies BEGIN
    INSERT INTO search_changes (entity, entity_id) VALUES ('technology', old.id);
END;
CREATE TRIGGER research_results_search_insert AFTER INSERT ON research_results BEGIN
    INSERT INTO search_changes (entity, entity_id) VALUES ('technology', new.technology_id);
END;
CREATE TRIGGER research_results_search_update AFTER UPDATE ON research_results BEGIN
    INSERT INTO search_changes (entity, entity_id) VALUES ('technology', new.technology_id);
END;
CREATE TRIGGER research_results_search_delete AFTER DELETE ON research_results BEGIN
    INSERT INTO search_changes (entity, entity_id) VALUES ('technology', old.technology_id);
END;
CREATE TRIGGER demands_search_insert AFTER INSERT ON demands BEGIN
    INSERT INTO search_changes (entity, entity_id) VALUES ('demand', new.id);
END;
CREATE TRIGGER demands_search_update AFTER UPDATE ON demands BEGIN
    INSERT INTO search_changes (entity, entity_id) VALUES ('demand', new.id);
END;
CREATE TRIGGER demands_search_delete AFTER DELETE ON demands BEGIN
    INSERT INTO search_changes (entity, entity_id) VALUES ('demand', old.id);
END;
CREATE TRIGGER organizations_search_update AFTER UPDATE OF name, verified ON organizations BEGIN
    INSERT INTO search_changes (entity, entity_id) VALUES ('organization', new.id);
END;

DROP TRIGGER technologies_fts_update;
DROP TRIGGER technologies_fts_delete;
DROP TRIGGER technologies_fts_insert;
DROP TABLE technologies_fts;
DROP TRIGGER demands_fts_update;
DROP TRIGGER demands_fts_delete;
DROP TRIGGER demands_fts_insert;
DROP TABLE demands_fts;
