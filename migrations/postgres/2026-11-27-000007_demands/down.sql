DROP TABLE match_dismissals;
DROP TABLE match_notifications;
DROP TABLE proposals;
DROP TABLE demands;
