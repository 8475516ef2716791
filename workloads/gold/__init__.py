"""Silver -> gold: the domain's marts on two engines, replacing exactly the changed partitions."""
