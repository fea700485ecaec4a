"""The REST API's routes, one module per part of the network operators manage."""
