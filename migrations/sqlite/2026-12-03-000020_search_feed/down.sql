CREATE VIRTUAL TABLE technologies_fts USING fts5(
    title_folded, search_text,
    content = 'technologies', content_rowid = 'search_rowid',
    tokenize = 'unicode61'
);
CREATE TRIGGER technologies_fts_insert AFTER INSERT ON technologies BEGIN
    INSERT INTO technologies_fts (rowid, title_folded, search_text)
    VALUES (new.search_rowid, new.title_folded, new.search_text);
END;
CREATE TRIGGER technologies_fts_delete AFTER DELETE ON technologies BEGIN
    INSERT INTO technologies_fts (technologies_fts, rowid, title_folded, search_text)
    VALUES ('delete', old.search_rowid, old.title_folded, old.search_text);
END;
CREATE TRIGGER technologies_fts_update AFTER UPDATE OF title_folded, search_text ON technologies
BEGIN
    INSERT INTO technologies_fts (technologies_fts, rowid, title_folded, search_text)
    VALUES ('delete', old.search_rowid, old.title_folded, old.search_text);
    INSERT INTO technologies_fts (rowid, title_folded, search_text)
    VALUES (new.search_rowid, new.title_folded, new.search_text);
END;
INSERT INTO technologies_fts (technologies_fts) VALUES ('rebuild');
CREATE VIRTUAL TABLE demands_fts USING fts5(
    title_folded, search_text,
    content = 'demands', content_rowid = 'search_rowid',
    tokenize = 'unicode61'
);
CREATE TRIGGER demands_fts_insert AFTER INSERT ON demands BEGIN
    INSERT INTO demands_fts (rowid, title_folded, search_text)
    VALUES (new.search_rowid, new.title_folded, new.search_text);
END;
CREATE TRIGGER demands_fts_delete AFTER DELETE ON demands BEGIN
    INSERT INTO demands_fts (demands_fts, rowid, title_folded, search_text)
    VALUES ('delete', old.search_rowid, old.title_folded, old.search_text);
END;
CREATE TRIGGER demands_fts_update AFTER UPDATE OF title_folded, search_text ON demands
BEGIN
    INSERT INTO demands_fts (demands_fts, rowid, title_folded, search_text)
    VALUES ('delete', old.search_rowid, old.title_folded, old.search_text);
    INSERT INTO demands_fts (rowid, title_folded, search_text)
    VALUES (new.search_rowid, new.title_folded, new.search_text);
END;
INSERT INTO demands_fts (demands_fts) VALUES ('rebuild');

DROP TRIGGER organizations_search_update;
DROP TRIGGER demands_search_delete;
DROP TRIGGER demands_search_update;
DROP TRIGGER demands_search_insert;
DROP TRIGGER research_results_search_delete;
DROP TRIGGER research_results_search_update;
DROP TRIGGER research_results_search_insert;
DROP TRIGGER technologies_search_delete;
DROP TRIGGER technologies_search_update;
DROP TRIGGER technologies_search_insert;
DROP TABLE search_changes;
