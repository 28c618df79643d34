"""HTTP views: parse the request, call a service, render. No SQL here."""
