"""Crash drills and the randomised fault run (`tonne drill`), on a
throwaway PostgreSQL cluster or the embedded SQLite registry."""
