DROP TABLE valuation_request_events;
DROP TABLE valuation_requests;
