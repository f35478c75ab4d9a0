"""The campaign board: each creator of a gig in the column of the stage their invitation, application or deal is at."""
