-- A driver's or operator's "charge now": full speed whatever the price, even with a known
-- departure that would let the plan wait for cheaper hours. NULL: not said (false).
ALTER TABLE session_demands ADD COLUMN charge_now boolean;
