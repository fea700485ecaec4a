"""OCPP handling per protocol version, on top of the `ocpp` package's schemas and routing."""

import ocpp.charge_point
import ocpp.messages

from sigecve.ocpp import schemas

# The `ocpp` package validates each payload in a thread by default: under the GIL that runs
# no faster, and a host actor under load spent about as much time handing payloads to the
# thread and back as validating them. Set here so that every user of the package in our
# processes (host actors, the simulator) validates inline.
ocpp.messages.ASYNC_VALIDATION = False
# And with the schemas compiled (sigecve/ocpp/schemas.py): every payload the package's
# ChargePoint checks, the calls it receives and sends and their replies.
ocpp.charge_point.validate_payload = schemas.validate_payload
