"""Ideas: co-creation of ideas with clients — submit, vote, dialogue, lifecycle, merge, adoption."""
SERVICE = "ideas"
