-- A listing's page shows its contact person (the user who created it), so a change of that
-- person's name or e-mail changes the page without changing the listing: the feed names
-- each of their listings, and every process forgets the pages' ETags (search::Validators).
CREATE FUNCTION search_change_of_contact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_changes (entity, entity_id)
    SELECT 'technology', id FROM technologies WHERE created_by = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_search_change AFTER UPDATE OF display_name, email ON users
    FOR EACH ROW
    WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION search_change_of_contact();
