from shared.migrations import run_env
from subgraphs.notifications.models import Base

run_env(Base.metadata)
