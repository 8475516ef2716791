"""Silver -> gold: monthly marts on two engines, replacing exactly the touched months."""
