"""The scenario suite: many seeded evenings on the real control code, fast."""
