"""Events the directory consumes: none; it is the source of the organization tree and of people."""
from shared.consumer import Handlers

handlers = Handlers()
