"""Connected social accounts: OAuth connections, verified audiences, posts read from the account, metrics."""
