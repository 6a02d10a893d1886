"""Small grid operator peers (DSO / VTN) for tests and demos, built on the protocols' own libraries."""
