"""Data layer: PostgreSQL through psycopg 3 (async pool), SQL migrations, repositories."""
