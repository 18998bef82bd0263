"""GitHub webhook intake: verified, stored before the answer, processed by routing rules off the request path,
retried with backoff, dead-lettered, replayable, and recovered from GitHub's own failed deliveries.

- ``intake.py``     the route: signature check, parsing, the stored row, the answer
- ``summaries.py``  one line per event for the feed ("PR #5 merged by alice: ...")
- ``rules.py``      the routing rules file: matching, targets, ``${...}`` templates (JMESPath)
- ``store.py``      the deliveries table: store, claim, finish, list, feed, replay
- ``processing.py`` the background processor (a dependency part, started over HTTP) and the tool caller
- ``recovery.py``   GitHub's record of a hook's deliveries, and redelivery of the ones that failed
"""
