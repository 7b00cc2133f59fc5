DROP TABLE match_dismissals;
DROP TABLE match_notifications;
DROP TABLE proposals;
DROP TRIGGER demands_fts_update;
DROP TRIGGER demands_fts_delete;
DROP TRIGGER demands_fts_insert;
DROP TABLE demands_fts;
DROP TABLE demands;
