DROP INDEX technologies_created_by;
