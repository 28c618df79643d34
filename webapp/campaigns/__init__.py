"""City campaigns: project pages, officials' project admin, expert review, budget ballots, results
and implementation — the crowdsourcing portal's full cycle on top of ``webapp/projects/``."""
