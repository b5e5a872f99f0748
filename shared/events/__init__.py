"""Events in (blob drops, Event Grid) and out (a CloudEvent when a job ends)."""
