DROP TABLE inquiry_messages;
DROP TABLE inquiries;
DROP TABLE deal_checklist;
DROP TABLE deal_events;
DROP TABLE deals;
