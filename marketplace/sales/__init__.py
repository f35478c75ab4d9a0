"""Sales: discount codes and tracking links per deal, order attribution, commission and reports."""
