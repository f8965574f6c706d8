"""Alembic environment: the engine comes from the caller (clarion.store.migrate)."""

from alembic import context

from clarion.store import (api_models, console_models, engagement_models,  # noqa: F401
                           limit_models, policy_models)  # their tables belong to Base too
from clarion.store.models import Base, on_dialect

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=engine.dialect.name == "sqlite",
                      include_object=on_dialect(engine.dialect.name))
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
