from shared.migrations import run_env
from subgraphs.shipping.models import Base

run_env(Base.metadata)
