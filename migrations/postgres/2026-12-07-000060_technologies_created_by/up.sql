-- The contact-rename trigger (000050) finds a user's listings by their creator: without
-- this index each display-name or e-mail change scanned the whole table.
CREATE INDEX technologies_created_by ON technologies (created_by);
