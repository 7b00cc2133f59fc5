DROP TRIGGER users_search_change ON users;
DROP FUNCTION search_change_of_contact();
