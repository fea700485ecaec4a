-- A charger whose MeterValues was stored but whose answer was lost (a partition, a node
-- lost, a restart) sends it again, as OCPP asks of transaction-related messages: a
-- reading is stored once. A reading is one measurand of one connector at one instant
-- (its phase, location and context telling apart what a single sample carries).
DELETE FROM meter_values a USING meter_values b
 WHERE a.id > b.id
   AND a.charge_point_id = b.charge_point_id AND a.connector_id = b.connector_id
   AND a.timestamp = b.timestamp AND a.measurand = b.measurand
   AND a.phase IS NOT DISTINCT FROM b.phase AND a.location IS NOT DISTINCT FROM b.location
   AND a.context IS NOT DISTINCT FROM b.context;
CREATE UNIQUE INDEX meter_values_once ON meter_values
    (charge_point_id, connector_id, timestamp, measurand, phase, location, context)
    NULLS NOT DISTINCT;
