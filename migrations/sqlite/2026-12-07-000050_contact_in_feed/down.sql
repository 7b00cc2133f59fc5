DROP TRIGGER users_search_change;
