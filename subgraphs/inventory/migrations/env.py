from shared.migrations import run_env
from subgraphs.inventory.models import Base

run_env(Base.metadata)
