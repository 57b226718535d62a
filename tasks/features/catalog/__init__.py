"""Feature declarations by source; ``tasks.features.definitions`` assembles them."""
