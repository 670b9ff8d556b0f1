"""Events the notifications service consumes, and what it keeps of them."""
from shared.consumer import Handlers
from shared.readmodels import keep_branches

handlers = Handlers()
keep_branches(handlers)
