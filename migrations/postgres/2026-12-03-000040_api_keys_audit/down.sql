DROP TABLE audit_events;
DROP TABLE api_key_addresses;
DROP TABLE api_keys;
