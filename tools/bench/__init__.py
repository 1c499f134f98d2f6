"""The benchmark rows and both benchmark gates: instruction counts (Callgrind) and wall clock."""
