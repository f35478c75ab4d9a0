"""Users, sign-in, password reset, API tokens and the role guards."""
