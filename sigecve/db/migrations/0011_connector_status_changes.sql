-- A connector's status is announced on the live stream when it is first seen and when its
-- status or error code changes, not for every StatusNotification: a reconnecting fleet
-- repeats the statuses it had, and each repeat cost a NOTIFY, its JSON, and a wake-up of
-- every listener (the failure scorers among them) for nothing.
DROP TRIGGER connectors_notify ON connectors;
CREATE TRIGGER connectors_notify_first AFTER INSERT ON connectors
    FOR EACH ROW EXECUTE FUNCTION notify_connector_status();
CREATE TRIGGER connectors_notify_change AFTER UPDATE OF status, error_code ON connectors
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.error_code IS DISTINCT FROM NEW.error_code)
    EXECUTE FUNCTION notify_connector_status();
