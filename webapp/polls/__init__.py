"""City polls ("Active Citizen"): the city asks, each resident answers once, and the results say
honestly who answered — shares with confidence intervals, by district, re-weighted to the city's
population. The statistics are pure NumPy in ``ranking/polls.py``."""
