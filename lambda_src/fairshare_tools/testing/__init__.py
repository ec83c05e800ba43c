"""In-memory implementations of the ports, shared by the tests, the simulator and the harnesses."""
