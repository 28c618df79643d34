"""Problem reports ("Our City"): a resident reports a problem at a place; the responsible service
answers by a deadline counted in working days; the resident confirms or contests. Begun: the
topic catalogue (``catalogue.py``) and the production calendar (``workdays.py``)."""
