-- A session's priority for the smart-charging planner (1 normal .. 10): when power is short,
-- a kWh to a session of priority 3 is worth three to one of priority 1.
ALTER TABLE session_demands ADD COLUMN priority smallint CHECK (priority BETWEEN 1 AND 10);
