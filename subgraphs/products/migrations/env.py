from shared.migrations import run_env
from subgraphs.products.models import Base

run_env(Base.metadata)
