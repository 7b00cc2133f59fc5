-- A listing's page shows its contact person (the user who created it), so a change of that
-- person's name or e-mail changes the page without changing the listing: the feed names
-- each of their listings, and every process forgets the pages' ETags (search::Validators).
CREATE TRIGGER users_search_change AFTER UPDATE OF display_name, email ON users
WHEN old.display_name IS NOT new.display_name OR old.email IS NOT new.email
BEGIN
    INSERT INTO search_changes (entity, entity_id)
    SELECT 'technology', id FROM technologies WHERE created_by = new.id;
END;
