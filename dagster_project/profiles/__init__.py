"""The profile's pure logic: facts in, profiles and conversation starters out.

No Dagster and no warehouse here, so the teacher app (``pipelines.teacher``) and the unit tests
import it without loading the Dagster code location.
"""
