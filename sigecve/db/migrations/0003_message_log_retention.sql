-- The message log is purged by age: find old frames without scanning the whole log.
CREATE INDEX ocpp_messages_at ON ocpp_messages (at);
