"""Executable, versioned methodologies: pure functions from aggregated
measurements and sourced parameters to emission reductions or removals per
vintage. No database access here: MRV gathers the inputs and stores the
result with the code version that produced it."""
