"""`sigecve lab`: a Ray cluster of several nodes on one Linux machine, for trying, testing and
benchmarking SIGEC-VE as a distributed system.

Each node is a network namespace of its own with its own IP, plugged into a bridge that
lives in a namespace of the lab's too, so nothing is added to the machine's own network:
the lab's addresses are reachable only from inside its namespaces, and it has no route out.
Chargers run in one more namespace on the same bridge. Faults are nftables rules and `tc`
qdiscs inside a node's namespace, or SIGKILL of every process in it.
"""
