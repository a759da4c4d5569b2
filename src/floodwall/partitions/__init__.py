"""Many engines as one: the coordinator's logic across partitions, and N partitions in one process."""
