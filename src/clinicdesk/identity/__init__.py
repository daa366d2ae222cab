"""Identity and access: organizations, locations, users, roles, sign-in, sessions, MFA."""
