"""Physics of the hybrid heat pump simulator: weather, house, heat pump, boiler."""
