"""Reports over any request filter: response times by rating, NPS over time and by group."""
